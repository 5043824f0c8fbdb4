// Candidate query latency as the fleet grows (issue 15, docs/architecture.md#targets):
// at 100,000 machines a candidate query should cost about what it costs at
// 1,000, whatever the share of candidates, zero included. Zero is the steady
// state of a healthy fleet, and the case where a scan that skips
// non-candidates has to walk every machine before it can answer "nothing".
//
// One database per fleet size, seeded with generate_series: every machine
// provided, its agent started two hours ago and heartbeating now. For each
// candidate share, a random `share` of the machines lose their agent (agent
// start candidates) and another random `share` stop heartbeating an hour ago
// (recovery candidates). Then the median time of an agent-start and of a
// recovery candidate query (limit 1, each in its own transaction as a worker
// runs it). The seeding is plain SQL, so the work schedule's hints are
// repaired by sweeping the fleet before measuring. One JSON line per figure, plus the ratio of the
// largest to the smallest fleet and the commit baseline of the same run.
//
// BENCH_SIZES=1000,10000 and BENCH_SHARES=0,0.01 narrow the matrix;
// BENCH_QUICK=1 runs 1,000 and 10,000 machines with a smaller time budget.
import { Registry } from 'prom-client';
import { openBmdb } from '../src/bmdb/index.ts';
import { startPgCluster } from '../test/pg-cluster.ts';
import { connectClient, createDatabase, emit, emitBaseline, median, progress, QUICK, timeRepeatedly } from './bench-lib.ts';

const list = (v: string | undefined, fallback: string) => (v ?? fallback).split(',').map(Number);
const SIZES = list(process.env.BENCH_SIZES, QUICK ? '1000,10000' : '1000,10000,100000');
const SHARES = list(process.env.BENCH_SHARES, '0,0.01,0.1');
/** Per figure: at least MIN and at most MAX queries, stopping once the budget is spent. */
const MIN_QUERIES = 5;
const MAX_QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const BUDGET_MS = QUICK ? 500 : 2500;
const KINDS = ['agent_start', 'recovery'] as const;

const cluster = await startPgCluster();
try {
  const admin = await connectClient(cluster.adminUrl);
  await emitBaseline(admin, cluster.adminUrl);
  const results = new Map<string, number>();
  for (const size of SIZES) {
    const url = await createDatabase(admin, cluster.adminUrl, `cand_${size}`);
    const bmdb = await openBmdb({ url, migrate: true, metricsRegistry: new Registry() });
    const seeder = await connectClient(url);
    const t0 = performance.now();
    await seeder.query('INSERT INTO machines (machine_id) SELECT gen_random_uuid() FROM generate_series(1, $1)', [size]);
    await seeder.query(`INSERT INTO machine_provided (machine_id, provider, provider_id) SELECT machine_id, 'None', machine_id::text FROM machines`);
    // A fixed random order of the machines: the first k of it are the candidates of a share.
    await seeder.query('CREATE TABLE bench_rank AS SELECT machine_id, row_number() OVER (ORDER BY random()) AS r FROM machines');
    progress(`candidates: seeded ${size} machines in ${Math.round(performance.now() - t0)} ms`);
    for (const share of SHARES) {
      const k = Math.round(size * share);
      // Back to a healthy fleet, then make k of each kind of candidate.
      await seeder.query(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
        SELECT machine_id, now() - interval '2 hours', '\\x00' FROM machines ON CONFLICT (machine_id) DO NOTHING`);
      await seeder.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) SELECT machine_id, now() FROM machines
        ON CONFLICT (machine_id) DO UPDATE SET agent_heartbeat_at = excluded.agent_heartbeat_at`);
      await seeder.query('DELETE FROM machine_agent_heartbeat WHERE machine_id IN (SELECT machine_id FROM bench_rank WHERE r <= $1)', [k]);
      await seeder.query('DELETE FROM machine_agent_started WHERE machine_id IN (SELECT machine_id FROM bench_rank WHERE r <= $1)', [k]);
      await seeder.query(`UPDATE machine_agent_heartbeat SET agent_heartbeat_at = now() - interval '1 hour'
        WHERE machine_id IN (SELECT machine_id FROM bench_rank WHERE r > $1 AND r <= $2)`, [k, 2 * k]);
      // The seeding bypasses the writes that keep the work schedule: repair
      // it the way a runner's sweep does, in steps over the whole fleet.
      let after: string | null = null;
      do after = (await bmdb.transact('bench', (q) => q.sweepWorkDue({ after, limit: 10_000 }))).next;
      while (after !== null);
      await seeder.query('VACUUM ANALYZE');
      for (const kind of KINDS) {
        const expected = k > 0 ? 1 : 0;
        const times = await timeRepeatedly(
          async () => {
            const rows = await bmdb.transact('bench', (q) =>
              kind === 'agent_start' ? q.getAgentStartCandidates({ provider: 'None', limit: 1 }) : q.getRecoveryCandidates({ provider: 'None', limit: 1 }),
            );
            if (rows.length !== expected) throw new Error(`expected ${expected} ${kind} candidate(s) at ${size} machines, share ${share}; got ${rows.length}`);
          },
          { minRuns: MIN_QUERIES, maxRuns: MAX_QUERIES, budgetMs: BUDGET_MS },
        );
        const ms = median(times);
        results.set(`${kind}:${share}:${size}`, ms);
        emit({ bench: 'bmdb_candidates', figure: 'candidate_query_ms', query: kind, machines: size, candidates_share: share, candidates: k, median: Number(ms.toFixed(3)), queries: times.length });
      }
    }
    await seeder.end();
    await bmdb.close();
  }
  const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
  if (small !== large) {
    for (const kind of KINDS) {
      for (const share of SHARES) {
        const ratio = results.get(`${kind}:${share}:${large}`)! / results.get(`${kind}:${share}:${small}`)!;
        emit({ bench: 'bmdb_candidates', figure: 'candidate_query_ratio_large_to_small', query: kind, candidates_share: share, small, large, ratio: Number(ratio.toFixed(2)) });
      }
    }
  }
  await admin.end();
} finally {
  await cluster.stop();
}
