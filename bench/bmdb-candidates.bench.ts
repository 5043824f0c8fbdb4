// Candidate query latency as the fleet grows (docs/architecture.md#targets: at
// 100,000 machines a candidate query should take about as long as at 1,000).
// For each size, 90 % of the machines already have an agent (so candidates
// are sparse and the scan has to skip non-candidates), then the median time of
// an agent-start and a recovery candidate query, each in its own transaction
// as a worker would run it, with a random scan start. One JSON line per figure.
import os from 'node:os';
import pg from 'pg';
import { Registry } from 'prom-client';
import { openBmdb } from '../src/bmdb/index.ts';
import { startPgCluster } from '../test/pg-cluster.ts';
import { createDatabase, emit, median } from './bench-lib.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1000,100000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const STARTED_FRACTION = 0.9;

const cluster = await startPgCluster();
try {
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  const results = new Map<string, number>();
  for (const size of SIZES) {
    const url = await createDatabase(admin, cluster.adminUrl, `cand_${size}`);
    const bmdb = await openBmdb({ url, migrate: true, metricsRegistry: new Registry() });
    const d = bmdb.driver;
    await d.query('INSERT INTO machines (machine_id) SELECT gen_random_uuid() FROM generate_series(1, $1)', [size]);
    await d.query(`INSERT INTO machine_provided (machine_id, provider, provider_id) SELECT machine_id, 'None', machine_id::text FROM machines`);
    // Started agents; all of them heartbeating recently, except one in a hundred gone silent.
    await d.query(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
      SELECT machine_id, now() - interval '2 hours', '\\x00' FROM machines WHERE random() < $1`, [STARTED_FRACTION]);
    await d.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at)
      SELECT machine_id, CASE WHEN random() < 0.01 THEN now() - interval '1 hour' ELSE now() END FROM machine_agent_started`);
    await d.query('ANALYZE');
    for (const kind of ['agent_start', 'recovery'] as const) {
      const times: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const t0 = performance.now();
        const rows = await bmdb.transact('bench', (q) =>
          kind === 'agent_start' ? q.getAgentStartCandidates({ provider: 'None', limit: 1 }) : q.getRecoveryCandidates({ provider: 'None', limit: 1 }),
        );
        times.push(performance.now() - t0);
        if (rows.length !== 1) throw new Error(`expected a ${kind} candidate at ${size} machines`);
      }
      const ms = median(times);
      results.set(`${kind}:${size}`, ms);
      emit({ bench: 'bmdb_candidates', figure: 'candidate_query_ms', query: kind, machines: size, candidates_fraction: kind === 'agent_start' ? 1 - STARTED_FRACTION : STARTED_FRACTION * 0.01, median: Number(ms.toFixed(3)), queries: QUERIES, cpus: os.availableParallelism() });
    }
    await bmdb.close();
  }
  const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
  for (const kind of ['agent_start', 'recovery']) {
    emit({ bench: 'bmdb_candidates', figure: 'candidate_query_ratio_large_to_small', query: kind, small, large, ratio: Number((results.get(`${kind}:${large}`)! / results.get(`${kind}:${small}`)!).toFixed(2)) });
  }
  await admin.end();
} finally {
  await cluster.stop();
}
