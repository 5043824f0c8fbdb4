// bmaas claims next to a job queue (issue 15): graphile-worker 0.18 working off
// N no-op jobs with concurrency 16, and bmaas's Work + finish cycle with 16
// workers on one session over 5,000 agent-start candidates, on the same throw-away cluster in
// the same run (each in a database of its own), alternating so both see the
// same noise; then the ratio of the medians and the commit baseline.
//
// graphile-worker runs in this process through its library API (run() with a
// task list), unbatched: localQueue.size -1 (each worker fetches its own job,
// no pre-locked local queue), completeJobBatchDelay and failJobBatchDelay -1
// (each completion its own statement), prepared statements on, maxPoolSize 18
// (concurrency + 2, its own recommendation), pollInterval 2000 (default; the
// queue is full, so polling never waits). The clock runs from the first job's
// start to the last job's completion. Each round also runs graphile-worker with
// its own batching on (a local queue of 100, batched completions), printed for
// context: bmaas groups a session's claims and finishes, so that figure says
// how the two compare when both batch.
//
// BENCH_JOBS (10,000), BENCH_MACHINES (5,000), BENCH_RUNS (3); BENCH_QUICK=1: 2,000 / 1,000 / 1.
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { startPgCluster } from '../test/pg-cluster.ts';
import { connectClient, createDatabase, emit, emitBaseline, median, progress, QUICK } from './bench-lib.ts';
import { backendCpu, backendCpuMs, type BackendCpuSnapshot } from './backend-cpu.ts';
import { runClaimCycles } from './claim-cycles.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? (QUICK ? 2000 : 10_000));
const MACHINES = Number(process.env.BENCH_MACHINES ?? (QUICK ? 1000 : 5000));
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const CONCURRENCY = 16;

// The comparison's settings, and (for context only) graphile-worker's own
// batching: a local queue of pre-locked jobs and completions written together.
const UNBATCHED = { localQueue: { size: -1 }, completeJobBatchDelay: -1, failJobBatchDelay: -1 };
const BATCHED = { localQueue: { size: 100 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 };

const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
});

/**
 * Jobs per second, and this process's and the database backends' CPU
 * milliseconds per job, for JOBS no-op jobs queued up front in the empty
 * database `url`; `backends` snapshots the backends' CPU.
 */
async function graphileWorkerRate(url: string, backends: () => Promise<BackendCpuSnapshot>, batched = false): Promise<{ rate: number; cpuMsPerJob: number; backendCpuMsPerJob: number }> {
  const options = {
    connectionString: url,
    concurrency: CONCURRENCY,
    maxPoolSize: CONCURRENCY + 2,
    pollInterval: 2000,
    noHandleSignals: true,
    logger: quietLogger,
    preset: { worker: batched ? BATCHED : UNBATCHED },
  };
  await runMigrations(options);
  const utils = await makeWorkerUtils({ connectionString: url, logger: quietLogger });
  try {
    for (let i = 0; i < JOBS; i += 1000) {
      await utils.addJobs(Array.from({ length: Math.min(1000, JOBS - i) }, (_, j) => ({ identifier: 'noop', payload: { n: i + j } })));
    }
  } finally {
    await utils.release();
  }
  let first = 0;
  let last = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  let cpuUsed: NodeJS.CpuUsage | undefined;
  let backendStart: Promise<BackendCpuSnapshot> | undefined;
  let backendEnd: Promise<BackendCpuSnapshot> | undefined;
  let completed = 0;
  let failed = 0;
  const { promise: allDone, resolve } = Promise.withResolvers<void>();
  const runner = await run({ ...options, taskList: { noop: async () => {} } });
  runner.events.on('job:start', () => {
    if (first) return;
    first = performance.now();
    cpu = process.cpuUsage();
    backendStart = backends();
  });
  runner.events.on('job:error', () => {
    failed++;
  });
  runner.events.on('job:complete', () => {
    if (++completed === JOBS) {
      last = performance.now();
      cpuUsed = process.cpuUsage(cpu);
      backendEnd = backends();
      resolve();
    }
  });
  await allDone;
  const backendMs = backendCpuMs(await backendStart!, await backendEnd!);
  await runner.stop();
  if (failed > 0) throw new Error(`graphile-worker: ${failed} of ${JOBS} jobs failed`);
  return { rate: JOBS / ((last - first) / 1000), cpuMsPerJob: (cpuUsed!.user + cpuUsed!.system) / 1000 / JOBS, backendCpuMsPerJob: backendMs / JOBS };
}

const cluster = await startPgCluster();
try {
  const admin = await connectClient(cluster.adminUrl);
  const base = await emitBaseline(admin, cluster.adminUrl);
  const gw: number[] = [];
  const gwCpu: number[] = [];
  const gwDb: number[] = [];
  const bmDb: number[] = [];
  const bm: number[] = [];
  const bmCpu: number[] = [];
  const gwBatched: number[] = [];
  let conflicts = 0;
  let retried = 0;
  for (let i = 0; i < RUNS; i++) {
    const g = await graphileWorkerRate(await createDatabase(admin, cluster.adminUrl, `gw_${i}`), () => backendCpu(admin, `gw_${i}`));
    gw.push(g.rate);
    gwCpu.push(g.cpuMsPerJob);
    gwDb.push(g.backendCpuMsPerJob);
    progress(`graphile-worker run ${i + 1}: ${Math.round(g.rate)} jobs/s, ${g.cpuMsPerJob.toFixed(3)} ms CPU per job here, ${g.backendCpuMsPerJob.toFixed(3)} ms in the database`);
    const r = await runClaimCycles(await createDatabase(admin, cluster.adminUrl, `claims_${i}`), CONCURRENCY, MACHINES, { backendCpu: () => backendCpu(admin, `claims_${i}`) });
    bm.push(r.rate);
    bmCpu.push(r.cpuMsPerCycle);
    bmDb.push(r.backendCpuMsPerCycle!);
    conflicts += r.conflicts;
    retried += r.retried;
    progress(`bmaas run ${i + 1}: ${Math.round(r.rate)} cycles/s, ${r.cpuMsPerCycle.toFixed(3)} ms CPU per cycle here, ${r.backendCpuMsPerCycle!.toFixed(3)} ms in the database`);
    const b = await graphileWorkerRate(await createDatabase(admin, cluster.adminUrl, `gwb_${i}`), () => backendCpu(admin, `gwb_${i}`), true);
    gwBatched.push(b.rate);
    progress(`graphile-worker batched run ${i + 1}: ${Math.round(b.rate)} jobs/s (context, not the comparison)`);
  }
  emit({
    bench: 'graphile_worker',
    figure: 'jobs_per_s',
    version: '0.18.0',
    jobs: JOBS,
    concurrency: CONCURRENCY,
    settings: 'run() in-process, task list, localQueue.size -1, completeJobBatchDelay -1, failJobBatchDelay -1, maxPoolSize 18',
    median: Math.round(median(gw)),
    runs: gw.map(Math.round),
    cpu_ms_per_job: Number(median(gwCpu).toFixed(3)),
    db_cpu_ms_per_job: Number(median(gwDb).toFixed(3)),
    ratio_to_baseline_1conn: Number((median(gw) / base.commits1).toFixed(3)),
  });
  emit({
    bench: 'bmdb_claims',
    figure: 'work_finish_cycles_per_s',
    workers: CONCURRENCY,
    machines: MACHINES,
    median: Math.round(median(bm)),
    runs: bm.map(Math.round),
    cpu_ms_per_cycle: Number(median(bmCpu).toFixed(3)),
    db_cpu_ms_per_cycle: Number(median(bmDb).toFixed(3)),
    conflicts,
    retried,
    ratio_to_baseline_1conn: Number((median(bm) / base.commits1).toFixed(3)),
  });
  emit({
    bench: 'graphile_worker_batched',
    figure: 'jobs_per_s',
    note: 'context only: graphile-worker with its own batching on; the comparison is the unbatched figure, as issue 15 specifies',
    settings: 'as graphile_worker, but localQueue.size 100, completeJobBatchDelay 0, failJobBatchDelay 0',
    median: Math.round(median(gwBatched)),
    runs: gwBatched.map(Math.round),
  });
  emit({ bench: 'claims_vs_graphile_worker', figure: 'ratio', bmaas_cycles_per_s: Math.round(median(bm)), graphile_worker_jobs_per_s: Math.round(median(gw)), ratio: Number((median(bm) / median(gw)).toFixed(2)) });
  await admin.end();
} finally {
  await cluster.stop();
}
