// The Work + finish cycle the claim benches measure, in one place: a fleet of
// agent-start candidates seeded in bulk, and N workers (each with a session of
// its own) claiming a candidate, setting AgentStarted and finishing, until
// nothing is left. Used by claims-vs-graphile-worker.bench.ts; meant for
// bmdb-claims.bench.ts too once the session.work API settles.
import { Registry } from 'prom-client';
import { NothingToDoError, openBmdb, WorkConflictError, type Bmdb } from '../src/bmdb/index.ts';

/** `machines` provided machines of provider None without an agent: all agent-start candidates. */
export async function seedAgentStartCandidates(bmdb: Bmdb, machines: number): Promise<void> {
  await bmdb.driver.query('INSERT INTO machines (machine_id) SELECT gen_random_uuid() FROM generate_series(1, $1)', [machines]);
  await bmdb.driver.query(`INSERT INTO machine_provided (machine_id, provider, provider_id) SELECT machine_id, 'None', machine_id::text FROM machines`);
  await bmdb.driver.query('ANALYZE');
}

export interface ClaimRun {
  /** Completed cycles per second. */
  readonly rate: number;
  /** Claims lost to another worker and retried. */
  readonly conflicts: number;
}

/** Opens a BMDB on `url` (an empty database), seeds it and works every machine off with `workers` sessions. */
export async function runClaimCycles(url: string, workers: number, machines: number): Promise<ClaimRun> {
  const bmdb = await openBmdb({ url, migrate: true, maxConnections: workers + 4, metricsRegistry: new Registry() });
  try {
    await seedAgentStartCandidates(bmdb, machines);
    const sessions = await Promise.all(Array.from({ length: workers }, (_, i) => bmdb.startSession({ component: `bench-${i}`, processor: 'bench' })));
    const publicKey = new Uint8Array(32);
    let done = 0;
    let conflicts = 0;
    const worker = async (s: (typeof sessions)[number]) => {
      for (;;) {
        try {
          const w = await s.work('ShepherdAgentStart', async (q) => (await q.getAgentStartCandidates({ provider: 'None', limit: 1 })).map((m) => m.machineId));
          await w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }));
          done++;
        } catch (err) {
          if (err instanceof NothingToDoError) return;
          if (!(err instanceof WorkConflictError)) throw err;
          conflicts++;
        }
      }
    };
    const start = performance.now();
    await Promise.all(sessions.map(worker));
    const seconds = (performance.now() - start) / 1000;
    for (const s of sessions) await s.close();
    if (done !== machines) throw new Error(`expected ${machines} cycles, did ${done}`);
    return { rate: done / seconds, conflicts };
  } finally {
    await bmdb.close();
  }
}
