// Claim throughput: Work + finish cycles per second over 5,000 agent-start
// candidates, with 1 and with 16 workers (sharing one session, as a control
// loop runner's do; bench/claim-cycles.ts), on a
// throw-away local PostgreSQL; plus that cluster's single-row commit rate as
// the baseline, measured in the same run. Prints one JSON line per figure.
import os from 'node:os';
import pg from 'pg';
import { startPgCluster } from '../test/pg-cluster.ts';
import { connectClient, createDatabase, emit, median } from './bench-lib.ts';
import { runClaimCycles } from './claim-cycles.ts';

const MACHINES = Number(process.env.BENCH_MACHINES ?? 5000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const cluster = await startPgCluster();
try {
  const admin = await connectClient(cluster.adminUrl);
  let dbCounter = 0;
  const freshDb = () => createDatabase(admin, cluster.adminUrl, `bench_${++dbCounter}`);

  // Baseline: autocommit single-row inserts on one connection, and on 16.
  const baseline = async (connections: number) => {
    const url = await freshDb();
    const pool = new pg.Pool({ connectionString: url, max: connections });
    await pool.query('CREATE TABLE t (id bigserial PRIMARY KEY, v text)');
    const per = 2000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const c = await pool.connect();
        for (let i = 0; i < per; i++) await c.query('INSERT INTO t (v) VALUES ($1)', ['x']);
        c.release();
      }),
    );
    const rate = (per * connections) / ((performance.now() - start) / 1000);
    await pool.end();
    return rate;
  };
  const base1: number[] = [];
  const base16: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    base1.push(await baseline(1));
    base16.push(await baseline(16));
  }
  emit({ bench: 'baseline', figure: 'single_row_commits_per_s', connections: 1, median: Math.round(median(base1)), runs: base1.map(Math.round), cpus: os.availableParallelism() });
  emit({ bench: 'baseline', figure: 'single_row_commits_per_s', connections: 16, median: Math.round(median(base16)), runs: base16.map(Math.round) });

  for (const workers of [1, 16]) {
    const rates: number[] = [];
    let conflicts = 0;
    let retried = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await runClaimCycles(await freshDb(), workers, MACHINES);
      rates.push(r.rate);
      conflicts += r.conflicts;
      retried += r.retried;
      process.stderr.write(`bench: ${workers} workers run ${i + 1}: ${Math.round(r.rate)} cycles/s\n`);
    }
    emit({
      bench: 'bmdb_claims',
      figure: 'work_finish_cycles_per_s',
      workers,
      machines: MACHINES,
      median: Math.round(median(rates)),
      runs: rates.map(Math.round),
      conflicts,
      retried,
      ratio_to_baseline_1conn: Number((median(rates) / median(base1)).toFixed(3)),
    });
  }
  await admin.end();
} finally {
  await cluster.stop();
}
