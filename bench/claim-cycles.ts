// The Work + finish cycle the claim benches measure, in one place: a fleet of
// agent-start candidates seeded in bulk, and N workers sharing one session (as
// a control loop runner's workers do) claiming a candidate, setting
// AgentStarted and finishing, until nothing is left (after an untimed warm-up). Used by
// claims-vs-graphile-worker.bench.ts and bmdb-claims.bench.ts.
import { Registry } from 'prom-client';
import { backendCpuMs, type BackendCpuSnapshot } from './backend-cpu.ts';
import { agentStartCandidateStatement, NothingToDoError, openBmdb, WorkConflictError, type Bmdb, type IsolationLevel } from '../src/bmdb/index.ts';

/**
 * `machines` provided machines of provider None without an agent: all
 * agent-start candidates. Inserted in bulk, so their work schedule hints are
 * written afterwards by the repair sweep, as a runner's sweep would.
 */
export async function seedAgentStartCandidates(bmdb: Bmdb, machines: number): Promise<void> {
  await bmdb.driver.query('INSERT INTO machines (machine_id) SELECT gen_random_uuid() FROM generate_series(1, $1)', [machines]);
  await bmdb.driver.query(`INSERT INTO machine_provided (machine_id, provider, provider_id) SELECT machine_id, 'None', machine_id::text FROM machines`);
  let after: string | null = null;
  do after = (await bmdb.transact('bench', (q) => q.sweepWorkDue({ after, limit: 10_000 }))).next;
  while (after !== null);
  await bmdb.driver.query('ANALYZE');
}

export interface ClaimRun {
  /** Completed cycles per second. */
  readonly rate: number;
  /** Claims lost to another worker and retried. */
  readonly conflicts: number;
  /** Transactions retried after a serialization failure or deadlock. */
  readonly retried: number;
  /** This process's CPU time (user + system) per timed cycle, in milliseconds. */
  readonly cpuMsPerCycle: number;
  /** The database backends' CPU time per timed cycle, in milliseconds, when `backendCpu` was given. */
  readonly backendCpuMsPerCycle?: number;
}

export interface ClaimRunOptions {
  isolation?: IsolationLevel;
  /** A snapshot of the database backends' CPU (backend-cpu.ts), taken at the start and the end of the timed part. */
  backendCpu?: () => Promise<BackendCpuSnapshot>;
}

/** Cycles worked off before the clock starts, as a share of the timed ones. */
const WARM_UP_SHARE = 0.1;

/**
 * Opens a BMDB on `url` (an empty database), seeds it and works every machine
 * off with `workers` workers on one shared session. The first tenth of the
 * cycles is a warm-up, followed by ANALYZE, and is not timed: the tables the
 * cycle fills (history, AgentStarted) start empty, and plans cached while
 * they are tiny (sequential scans) stay until statistics change, which on a
 * live database autovacuum's ANALYZE sees to within a minute.
 */
export async function runClaimCycles(url: string, workers: number, machines: number, opts: ClaimRunOptions = {}): Promise<ClaimRun> {
  const bmdb = await openBmdb({ url, migrate: true, maxConnections: workers + 4, metricsRegistry: new Registry(), isolation: opts.isolation });
  try {
    const warmUp = Math.ceil(machines * WARM_UP_SHARE);
    await seedAgentStartCandidates(bmdb, machines + warmUp);
    const session = await bmdb.startSession({ component: 'bench', processor: 'bench' });
    const publicKey = new Uint8Array(32);
    const candidate = agentStartCandidateStatement({ provider: 'None' });
    const byStatement = process.env.BENCH_CLAIM !== 'work';
    let done = 0;
    let conflicts = 0;
    const worker = async (until: number) => {
      while (done < until) {
        try {
          // One statement and one round trip (Session.claim); BENCH_CLAIM=work: Session.work with the candidate query as its retrieval.
          const w = byStatement
            ? await session.claim('ShepherdAgentStart', candidate)
            : await session.work('ShepherdAgentStart', async (q) => (await q.getAgentStartCandidates({ provider: 'None', limit: 1 }))[0]);
          // The one write carries the COMMIT, so the finish is one round trip (Work.finish).
          await w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true }));
          done++;
        } catch (err) {
          if (err instanceof NothingToDoError) return;
          if (!(err instanceof WorkConflictError)) throw err;
          conflicts++;
        }
      }
    };
    const workOff = (until: number) => Promise.all(Array.from({ length: workers }, () => worker(until)));
    await workOff(warmUp);
    await bmdb.driver.query('ANALYZE');
    const warmed = done;
    conflicts = 0;
    const backendStart = await opts.backendCpu?.();
    const start = performance.now();
    const cpu = process.cpuUsage();
    await workOff(Infinity);
    const seconds = (performance.now() - start) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    const backendEnd = await opts.backendCpu?.();
    await session.close();
    if (done !== machines + warmUp) throw new Error(`expected ${machines + warmUp} cycles, did ${done}`);
    const retried = (await bmdb.metrics.transactionRetried.get()).values.reduce((n, v) => n + v.value, 0);
    const timed = done - warmed;
    const backendCpuMsPerCycle = backendStart === undefined || backendEnd === undefined ? undefined : backendCpuMs(backendStart, backendEnd) / timed;
    return { rate: timed / seconds, conflicts, retried, cpuMsPerCycle: (user + system) / 1000 / timed, backendCpuMsPerCycle };
  } finally {
    await bmdb.close();
  }
}
