// Heartbeats accepted per second by one `bmaas server` (issue 15: at least
// 3,400/s, a 100,000-machine fleet at the 30 s interval).
//
// The server runs as it does in production: a child process
// `node src/cli/main.ts server --bmdb-url postgres://… --dev-certs`, against a
// database of its own on the throw-away cluster. This process is the load
// generator: AGENTS agents (200), each with its own Ed25519 key, its own
// machine enrolled through the BMDB's public API (AgentStarted with that key,
// as the initializer leaves it) and its own HTTP/2 + TLS connection, each
// sending heartbeats back to back. After one warm-up heartbeat per agent
// (connection and TLS handshake), it counts accepted heartbeats for DURATION
// seconds (10). Also printed: latency percentiles, the server's warnings by
// message, the CPU seconds of the server and of the load generator over the
// window (the machine is shared: if the load generator's CPU is near one
// core, it and not the server may be the limit), the mean number of
// heartbeats the server wrote per statement (from its /metrics), and the
// commit baseline. BENCH_SERVER_CPU_PROF=DIR runs the server with --cpu-prof
// into DIR.
//
// The agents speak gRPC through RawHeartbeatAgent (HTTP/2 frames encoded once,
// written by hand on the agent's TLS connection), which costs this process a
// small fraction of what the agent's Connect client does; its count of
// accepted calls is checked against the server's. BENCH_LOADGEN=connect uses
// the agent's client instead.
//
// BENCH_AGENTS, BENCH_DURATION_S; BENCH_QUICK=1: 50 agents for 3 s.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { clientCertificate, createCallbackClient, generateAgentKey, rawPublicKey } from '../src/agent/index.ts';
import { openBmdb } from '../src/bmdb/index.ts';
import { ensureDevCertificates } from '../src/server/index.ts';
import { startPgCluster } from '../test/pg-cluster.ts';
import { RawHeartbeatAgent } from './raw-heartbeat-agent.ts';
import { connectClient, createDatabase, emit, emitBaseline, progress, QUICK } from './bench-lib.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? (QUICK ? 50 : 200));
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? (QUICK ? 3 : 10));
const CALL_TIMEOUT_MS = 10_000;
const LOADGEN = process.env.BENCH_LOADGEN === 'connect' ? 'connect' : 'raw';
const MAIN = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

/** One agent's connection and its heartbeat call, through the agent's client or the cheap raw one. */
async function connectAgent(endpoint: string, ca: Uint8Array, machineId: string, key: Parameters<typeof clientCertificate>[0]): Promise<{ heartbeat(): Promise<unknown>; close(): void }> {
  const cert = await clientCertificate(key, machineId);
  if (LOADGEN === 'raw') return RawHeartbeatAgent.connect({ endpoint, caCertificate: ca, machineId, ...cert }, CALL_TIMEOUT_MS);
  const c = createCallbackClient({ endpoint, caCertificate: ca, ...cert });
  return { heartbeat: () => c.client.heartbeat({ machineId }, { timeoutMs: CALL_TIMEOUT_MS }), close: () => c.close() };
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  return port;
}

/** User + system CPU seconds of a process so far, from /proc (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

const cluster = await startPgCluster();
const tmp = await mkdtemp(path.join(os.tmpdir(), 'bmaas-bench-hb-'));
try {
  const admin = await connectClient(cluster.adminUrl);
  await emitBaseline(admin, cluster.adminUrl);
  const url = await createDatabase(admin, cluster.adminUrl, 'heartbeats');

  // Enrol the agents as the initializer would.
  const bmdb = await openBmdb({ url, migrate: true, metricsRegistry: new Registry() });
  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const key = generateAgentKey();
    const machineId = await bmdb.transact('bench', async (q) => {
      const m = await q.newMachine();
      await q.setAgentStarted({ machineId: m.machineId, publicKey: rawPublicKey(key) });
      return m.machineId;
    });
    agents.push({ machineId, key });
  }
  await bmdb.close();

  const certsDir = path.join(tmp, 'certs');
  const certs = await ensureDevCertificates(certsDir);
  const port = await freePort();
  const metricsPort = await freePort();
  const prof = process.env.BENCH_SERVER_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_CPU_PROF] : [];
  const args = ['server', '--bmdb-url', url, '--listen-address', `127.0.0.1:${port}`, '--metrics-listen-address', `127.0.0.1:${metricsPort}`];
  const server = spawn(process.execPath, [...prof, MAIN, ...args, '--dev-certs', '--dev-certs-dir', certsDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The server's log (JSON lines on stderr): warnings are counted into the figure.
  const serverWarnings = new Map<string, number>();
  let serverLog = '';
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (chunk: string) => {
    serverLog += chunk;
    const lines = serverLog.split('\n');
    serverLog = lines.pop()!;
    for (const l of lines) {
      const entry = l.startsWith('{') ? (JSON.parse(l) as { level?: number; msg?: string }) : { level: 50, msg: l };
      if ((entry.level ?? 0) >= 40) serverWarnings.set(entry.msg ?? '', (serverWarnings.get(entry.msg ?? '') ?? 0) + 1);
    }
  });
  const exited = once(server, 'exit');
  try {
    let out = '';
    server.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bmaas server did not start in 30 s; it printed: ${out}`)), 30_000);
      server.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(([code]) => reject(new Error(`bmaas server exited with ${String(code)}: ${out}${serverLog}`)));
    });
    server.stdout.resume();

    const endpoint = `127.0.0.1:${port}`;
    const clients = await Promise.all(agents.map(async (a) => ({ ...a, c: await connectAgent(endpoint, certs.caCertificateDer, a.machineId, a.key) })));
    const t0 = performance.now();
    await Promise.all(clients.map((a) => a.c.heartbeat()));
    progress(`heartbeats: ${AGENTS} agents connected and accepted once in ${Math.round(performance.now() - t0)} ms`);

    let accepted = 0;
    const errors = new Map<string, number>();
    const latencies: number[] = [];
    const serverCpu0 = await cpuSeconds(server.pid!);
    const ownCpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + DURATION_S * 1000;
    await Promise.all(
      clients.map(async (a) => {
        while (performance.now() < end) {
          const s = performance.now();
          try {
            await a.c.heartbeat();
            accepted++;
            latencies.push(performance.now() - s);
          } catch (err) {
            const m = (err as Error).message;
            errors.set(m, (errors.get(m) ?? 0) + 1);
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const serverCpu = (await cpuSeconds(server.pid!)) - serverCpu0;
    const own = process.cpuUsage(ownCpu0);
    for (const a of clients) a.c.close();
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const perBatch = metric('bmsrv_heartbeat_batch_size_sum') / metric('bmsrv_heartbeat_batch_size_count');
    // The raw agents judge an answer by its frames, not its status: the server's count must agree.
    const serverAccepted = metric('bmsrv_heartbeats_total{result="accepted",reason="none"}');
    if (!(serverAccepted >= accepted + AGENTS)) throw new Error(`the server accepted ${serverAccepted} heartbeats, the agents counted ${accepted} + ${AGENTS} warm-up`);
    latencies.sort((x, y) => x - y);
    const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(1));
    emit({
      bench: 'heartbeats',
      figure: 'accepted_heartbeats_per_s',
      agents: AGENTS,
      seconds: Number(seconds.toFixed(1)),
      value: Math.round(accepted / seconds),
      accepted,
      errors: Object.fromEntries(errors),
      latency_ms: { p50: pct(0.5), p99: pct(0.99) },
      server_warnings: Object.fromEntries(serverWarnings),
      server_cpu_s: Number(serverCpu.toFixed(1)),
      // Less sensitive to a busy machine than the rate: what one heartbeat costs the server.
      server_cpu_ms_per_heartbeat: accepted ? Number(((serverCpu * 1000) / accepted).toFixed(2)) : null,
      heartbeats_per_statement: Number.isFinite(perBatch) ? Number(perBatch.toFixed(1)) : null,
      loadgen_cpu_s: Number(((own.user + own.system) / 1e6).toFixed(1)),
      loadgen_cpu_ms_per_heartbeat: accepted ? Number(((own.user + own.system) / 1e3 / accepted).toFixed(2)) : null,
      loadgen: LOADGEN,
      loadavg: os.loadavg().map((l) => Number(l.toFixed(2))),
      server: 'child process: node src/cli/main.ts server --dev-certs, PostgreSQL',
    });
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
  await admin.end();
} finally {
  await rm(tmp, { recursive: true, force: true });
  await cluster.stop();
}
