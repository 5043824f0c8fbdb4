// How long `bmaas dev --machines 1000 --no-faults --exit-when-converged` takes
// to converge (issue 15: at most 60 s, with zero backoffs and recoveries when
// no fault is configured). Runs the real command as a child process in a fresh
// data directory, with the embedded database (the default) or, with
// BENCH_DEV_BMDB=postgres, a database on the throw-away cluster. Afterwards it
// reads the BMDB's work history: failed works (each one sets a backoff) and
// recoveries per process, with their most common causes, counts the
// warnings in the structured log and gives the CPU time of the main thread
// and of the simulated fleet's thread until convergence (from the log's
// `converged` line). Also prints the commit baseline.
//
// Slow (minutes today), so `npm run bench` skips it unless BENCH_SLOW=1;
// `npm run bench -- dev` runs it. BENCH_DEV_MACHINES (1,000),
// BENCH_DEV_TIMEOUT_S (300); BENCH_QUICK=1: 100 machines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { openBmdb } from '../src/bmdb/index.ts';
import { startPgCluster } from '../test/pg-cluster.ts';
import { connectClient, createDatabase, emit, emitBaseline, progress, QUICK } from './bench-lib.ts';

const MACHINES = Number(process.env.BENCH_DEV_MACHINES ?? (QUICK ? 100 : 1000));
const TIMEOUT_S = Number(process.env.BENCH_DEV_TIMEOUT_S ?? 300);
const ON_POSTGRES = process.env.BENCH_DEV_BMDB === 'postgres';
/** How long the command may take to shut down after printing its verdict. */
const SHUTDOWN_GUARD_S = 30;
const MAIN = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

/** The most common values, most frequent first. */
const top = (xs: readonly string[], n = 5): Record<string, number> => {
  const counts = new Map<string, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, n));
};

const cluster = await startPgCluster();
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-bench-dev-'));
try {
  const admin = await connectClient(cluster.adminUrl);
  await emitBaseline(admin, cluster.adminUrl);
  const bmdbUrl = ON_POSTGRES ? await createDatabase(admin, cluster.adminUrl, 'dev') : `pglite://${path.join(dataDir, 'bmdb')}`;

  const args = [MAIN, 'dev', '--data-dir', dataDir, '--machines', String(MACHINES), '--no-faults', '--exit-when-converged', '--timeout', `${TIMEOUT_S}s`];
  // Any free metrics port: a second run at the same time would otherwise log a warning for the taken one.
  args.push('--server-listen-address', '127.0.0.1:0', '--webug-listen-address', 'off', '--metrics-listen-address', '127.0.0.1:0', '--summary-interval', '5s');
  if (ON_POSTGRES) args.push('--bmdb-url', bmdbUrl);
  progress(`dev: ${MACHINES} machines on ${ON_POSTGRES ? 'PostgreSQL' : 'the embedded database'}, timeout ${TIMEOUT_S} s`);
  const start = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // The command has its own --timeout; these only guard against a hang, before
  // its verdict and (a shutdown that does not finish) after it.
  let guard = setTimeout(() => child.kill('SIGKILL'), (TIMEOUT_S + 60) * 1000);
  let verdictAt: number | undefined;
  const forward = (chunk: Buffer) => {
    out += chunk.toString();
    process.stderr.write(chunk);
    if (verdictAt === undefined && /bmaas dev: (not )?converged after/.test(out)) {
      verdictAt = performance.now();
      clearTimeout(guard);
      guard = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_GUARD_S * 1000);
    }
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(guard);
  const exitedAt = performance.now();
  const wallS = (exitedAt - start) / 1000;
  const reported = /bmaas dev: converged after (\d+)s/.exec(out);
  const lastNumber = (label: string) => Number([...out.matchAll(new RegExp(`${label}\\s+(\\d+)`, 'g'))].at(-1)?.[1] ?? NaN);

  const bmdb = await openBmdb({ url: bmdbUrl, migrate: false, metricsRegistry: new Registry() });
  const history = await bmdb.driver.query(`SELECT process::text AS process, event::text AS event, coalesce(failed_cause, '') AS cause FROM work_history WHERE event IN ('Failed', 'Finished')`);
  await bmdb.close();
  const rows = history.rows as Array<{ process: string; event: string; cause: string }>;
  const failed = rows.filter((r) => r.event === 'Failed');
  const recoveries = rows.filter((r) => r.process === 'ShepherdRecovery' && r.event === 'Finished').length;
  const log = await readFile(path.join(dataDir, 'dev.log'), 'utf8').catch(() => '');
  const entries = log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg?: string; mainThreadCpuMs?: number; fleetThreadCpuMs?: number | null });
  const warnings = entries.filter((l) => l.level >= 40);
  // CPU until convergence, by thread: less noisy than wall time on a shared machine.
  const cpu = entries.find((l) => l.msg === 'converged');
  const seconds = (ms: number | null | undefined) => (typeof ms === 'number' ? Number((ms / 1000).toFixed(1)) : null);

  emit({
    bench: 'dev',
    figure: 'convergence_s',
    machines: MACHINES,
    bmdb: ON_POSTGRES ? 'postgres' : 'embedded',
    converged: reported !== null,
    exit: code ?? signal,
    value: reported ? Number(reported[1]) : null,
    shutdown_s: verdictAt === undefined ? null : Number(((exitedAt - verdictAt) / 1000).toFixed(1)),
    wall_s: Number(wallS.toFixed(1)),
    timeout_s: TIMEOUT_S,
    backoffs: failed.length,
    backoffs_by_process: top(failed.map((r) => r.process)),
    backoff_causes: top(failed.map((r) => `${r.process}: ${r.cause.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<address>').slice(0, 120)}`)),
    recoveries,
    main_thread_cpu_s: seconds(cpu?.mainThreadCpuMs),
    fleet_thread_cpu_s: seconds(cpu?.fleetThreadCpuMs),
    loadavg_after: os.loadavg().map((x) => Number(x.toFixed(2))),
    final_summary: { heartbeating: lastNumber('heartbeating'), silent: lastNumber('silent'), in_backoff: lastNumber('in backoff'), rebooted: lastNumber('rebooted') },
    log_warnings: warnings.length,
    log_warning_messages: top(warnings.map((w) => w.msg ?? '')),
  });
  await admin.end();
} finally {
  await rm(dataDir, { recursive: true, force: true });
  await cluster.stop();
}
