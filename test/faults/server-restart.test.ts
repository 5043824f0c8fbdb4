// Fault: `bmaas server` restarted (SIGTERM, then started again on the same
// port) while agents heartbeat against it. The agents here run the agent's
// own heartbeat loop and callback client in this process, one HTTP/2
// connection each, so the reconnect and the backoff under test are the real
// ones. Every agent must heartbeat again soon after the new server listens,
// retrying with backoff rather than in a tight loop meanwhile, and every
// heartbeat a server acknowledged must be in the BMDB: only the outage
// window is lost.
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { clientCertificate, createCallbackClient, runHeartbeatLoop, type CallbackClient } from '../../src/agent/index.ts';
import { openBmdb } from '../../src/bmdb/index.ts';
import { spawnBmaas, type BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { enrolAgent } from '../agent-harness.ts';
import { describePostgres } from '../pg.ts';
import { createRoleDatabase, type RoleDatabase } from '../role-database.ts';
import { waitWithLogs } from './shepherd-stand.ts';
import { reportFigure } from './figure.ts';

const AGENTS = 40;
const TIMING = { intervalMs: 1000, callTimeoutMs: 3000, backoffInitialMs: 250, backoffMaxMs: 2000 };
/** Beyond the outage window: one longest backoff, a call timeout, and a loaded machine. */
const SLACK_MS = TIMING.backoffMaxMs + TIMING.callTimeoutMs + 3000;

interface AgentRecord {
  readonly machineId: string;
  /** [sent, answered] of every acknowledged heartbeat. */
  readonly acked: Array<[number, number]>;
  /** Send times of failed calls. */
  readonly failed: number[];
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describePostgres('fault: bmaas server restarted under agent load', () => {
  let db: RoleDatabase | undefined;
  let dir: string | undefined;
  const servers: BmaasProcess[] = [];
  const clients: CallbackClient[] = [];
  const stop = new AbortController();
  const loops: Promise<void>[] = [];
  after(async () => {
    stop.abort();
    await Promise.allSettled(loops);
    for (const c of clients) c.close();
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('agents reconnect with backoff and heartbeat again; acknowledged heartbeats are all committed', { timeout: 120_000 }, async (t) => {
    db = await createRoleDatabase();
    dir = await mkdtemp(join(tmpdir(), 'bmaas-restart-'));
    const port = await freePort();
    const startServer = (): BmaasProcess => {
      const p = spawnBmaas(['server', '--bmdb-url', db!.url('server'), '--listen-address', `127.0.0.1:${port}`, '--dev-certs', '--dev-certs-dir', join(dir!, 'certs')]);
      servers.push(p);
      return p;
    };
    const logs = () => servers.map((s, i) => `server ${i} (exit ${s.child.exitCode}):\n${s.stdout().slice(-500)}${s.stderr().slice(-1500)}`).join('\n');
    const first = startServer();
    await waitWithLogs('the server to listen', logs, () => /listening on 127\.0\.0\.1:\d+/.test(first.stdout()), 60_000);
    const caCertificate = await readFile(join(dir, 'certs', 'ca.der'));

    const agents: AgentRecord[] = [];
    const enrolled: Array<{ machineId: string; key: KeyObject }> = [];
    {
      await using admin = await openBmdb({ url: db.adminUrl });
      for (let i = 0; i < AGENTS; i++) enrolled.push(await enrolAgent(admin));
    }
    for (const { machineId, key } of enrolled) {
      const record: AgentRecord = { machineId, acked: [], failed: [] };
      agents.push(record);
      const callback = createCallbackClient({ endpoint: `127.0.0.1:${port}`, caCertificate, ...(await clientCertificate(key, machineId)) });
      clients.push(callback);
      // The real client, watched: when each call went out and how it ended.
      const watched = {
        heartbeat: async (...args: Parameters<CallbackClient['client']['heartbeat']>) => {
          const sent = Date.now();
          try {
            const r = await callback.client.heartbeat(...args);
            record.acked.push([sent, Date.now()]);
            return r;
          } catch (err) {
            if (!stop.signal.aborted) record.failed.push(sent);
            throw err;
          }
        },
      } as unknown as CallbackClient['client'];
      loops.push(runHeartbeatLoop({ machineId, client: watched, installers: {}, reboot: async () => {}, signal: stop.signal, ...TIMING }));
    }
    await waitWithLogs('every agent to heartbeat', logs, () => agents.every((a) => a.acked.length >= 3), 60_000, 100);

    // The restart.
    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, `the server stopped gracefully:\n${first.stderr().slice(-2000)}`);
    const exitedAt = Date.now();
    // What the agents saw acknowledged is in the BMDB (the stopped server wrote its last batch before answering).
    const { rows } = await (async () => {
      await using admin = await openBmdb({ url: db!.adminUrl });
      return admin.driver.query<{ machine_id: string; at: Date }>('SELECT machine_id, agent_heartbeat_at AS at FROM machine_agent_heartbeat');
    })();
    const stored = new Map(rows.map((r) => [r.machine_id, r.at.getTime()]));
    for (const a of agents) {
      const last = a.acked.at(-1)!;
      assert.ok((stored.get(a.machineId) ?? 0) >= last[0], `${a.machineId}: acknowledged heartbeat sent at ${last[0]} is in the BMDB (stored ${stored.get(a.machineId)})`);
    }
    const second = startServer();
    await waitWithLogs('the restarted server to listen', logs, () => /listening on 127\.0\.0\.1:\d+/.test(second.stdout()), 60_000);
    const listeningAt = Date.now();
    const windowMs = listeningAt - stoppedAt;
    await waitWithLogs('every agent to heartbeat again', logs, () => agents.every((a) => (a.acked.at(-1)?.[0] ?? 0) >= listeningAt - 1000 && a.acked.at(-1)![1] >= listeningAt), windowMs + SLACK_MS, 50);
    const backMs = Date.now() - listeningAt;
    await delay(3 * TIMING.intervalMs);

    // Per agent: the gap in acknowledged heartbeats around the restart, the
    // heartbeats that gap cost at the agent's usual pace, and its retries.
    const gaps: number[] = [];
    const retries: number[] = [];
    let lost = 0;
    for (const a of agents) {
      const before = a.acked.filter(([, answered]) => answered <= exitedAt);
      const afterRestart = a.acked.find(([, answered]) => answered > exitedAt)!;
      assert.ok(afterRestart, `${a.machineId} heartbeats again`);
      const pace = median(before.slice(1).map(([s], i) => s - before[i]![0]));
      const gap = afterRestart[1] - before.at(-1)![1];
      gaps.push(gap);
      lost += Math.max(0, Math.round(gap / pace) - 1);
      const tries = a.failed.filter((s) => s >= stoppedAt - TIMING.callTimeoutMs && s <= afterRestart[0]).length;
      retries.push(tries);
      assert.ok(gap <= windowMs + SLACK_MS, `${a.machineId}: ${gap} ms without a heartbeat; window ${windowMs} ms`);
      // With backoff from 250 ms doubling to 2 s, a tight loop would try hundreds of times.
      assert.ok(tries <= Math.ceil(windowMs / TIMING.backoffInitialMs) + 2, `${a.machineId} retried ${tries} times in a ${windowMs} ms window`);
      assert.ok(a.acked.filter(([s]) => s > afterRestart[0]).length >= 2, `${a.machineId} keeps heartbeating`);
    }
    const expected = Math.round((windowMs / TIMING.intervalMs) * AGENTS);
    const figure = `server restart: ${AGENTS} agents heartbeating every ${TIMING.intervalMs} ms; outage window ${windowMs} ms (SIGTERM to listening; graceful exit after ${exitedAt - stoppedAt} ms); every agent back ${backMs} ms after the restart; gap per agent median ${median(gaps)} ms, max ${Math.max(...gaps)} ms; heartbeats lost ${lost} (≈ ${expected} fit in the window); retries per agent median ${median(retries)}, max ${Math.max(...retries)}; acknowledged heartbeats missing from the BMDB: 0`;
    reportFigure(t, figure);

    stop.abort();
    await Promise.allSettled(loops);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr().slice(-2000));
  });
});
