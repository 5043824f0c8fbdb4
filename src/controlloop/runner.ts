// The control loop runner (docs/architecture.md#control-loop-runner, the seed's controlLoopRunner):
// `parallelism` workers sharing one BMDB session (kept by a SessionKeeper),
// each iteration waiting on the shared DB-query token bucket, claiming one
// machine through Work and handing it to the loop.
import type { Logger } from 'pino';
import {
  NothingToDoError,
  SessionExpiredError,
  WorkConflictError,
  WorkLostError,
  SessionKeeper,
  type Bmdb,
  type MachineProvided,
  type Queries,
  type Session,
  type Work,
} from '../bmdb/index.ts';
import type { Registry } from 'prom-client';
import { FailureStreak } from '../lib/failure-streak.ts';
import { silentLogger } from '../lib/logger.ts';
import { TokenBucket, type RateLimit } from '../lib/rate.ts';
import { raceSignal } from '../lib/race-signal.ts';
import { sleep } from '../lib/sleep.ts';
import type { ControlLoop, Task } from './control-loop.ts';
import { describeError, ShutdownGraceExpiredError } from './errors.ts';
import { IdleGate } from './idle-gate.ts';
import { runnerMetrics, type RunnerMetrics } from './runner-metrics.ts';

export interface ControlLoopRunnerOptions {
  /** How many workers claim and process machines at once; default 1. */
  readonly parallelism?: number;
  /** Rate of candidate queries, shared by all workers (flag syntax `250ms,8`). */
  readonly dbQueryRate: RateLimit;
  /** How long in-flight work may run on after shutdown starts; default 10 s. */
  readonly shutdownGraceMs?: number;
  /** Session keep-alive interval; default the BMDB's (5 s). */
  readonly sessionIntervalMs?: number;
  /** Longest wait between candidate queries while there is nothing to do; default 1 s. */
  readonly maxIdleWaitMs?: number;
  /** Pause after an unexpected error; default 1 s. */
  readonly errorPauseMs?: number;
  /** Time between steps of the work schedule's repair sweep; default 5 s (docs/architecture.md#work-schedule). */
  readonly sweepIntervalMs?: number;
  /** Machines per sweep step; default 1,000. */
  readonly sweepLimit?: number;
  /** Where the candidate query and claim conflict metrics go; none unless given. */
  readonly metricsRegistry?: Registry;
  readonly logger?: Logger;
}

/** `new` until `run` is called; `stopping` from the abort until the last worker ends. */
export type RunnerState = 'new' | 'running' | 'stopping' | 'stopped';

const MIN_IDLE_WAIT_MS = 50;

export class ControlLoopRunner {
  readonly loop: ControlLoop;
  readonly #bmdb: Bmdb;
  readonly #options: Required<Omit<ControlLoopRunnerOptions, 'logger' | 'sessionIntervalMs' | 'metricsRegistry'>> & { sessionIntervalMs?: number };
  readonly #metrics: RunnerMetrics | undefined;
  readonly #bucket: TokenBucket;
  readonly #log: Logger;
  // Shared by the workers: during a database outage they all fail, and it is one outage.
  readonly #claimFailures: FailureStreak;
  readonly #sweepFailures: FailureStreak;
  readonly #idle = new IdleGate();
  #state: RunnerState = 'new';

  constructor(bmdb: Bmdb, loop: ControlLoop, options: ControlLoopRunnerOptions) {
    const parallelism = options.parallelism ?? 1;
    if (!Number.isInteger(parallelism) || parallelism < 1) throw new RangeError(`parallelism must be a whole number of at least 1, got ${parallelism}`);
    this.loop = loop;
    this.#bmdb = bmdb;
    this.#options = Object.freeze({
      parallelism,
      dbQueryRate: options.dbQueryRate,
      shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
      maxIdleWaitMs: options.maxIdleWaitMs ?? 1000,
      errorPauseMs: options.errorPauseMs ?? 1000,
      sweepIntervalMs: options.sweepIntervalMs ?? 5000,
      sweepLimit: options.sweepLimit ?? 1000,
      ...(options.sessionIntervalMs === undefined ? {} : { sessionIntervalMs: options.sessionIntervalMs }),
    });
    this.#bucket = new TokenBucket(options.dbQueryRate);
    this.#metrics = options.metricsRegistry ? runnerMetrics(options.metricsRegistry) : undefined;
    this.#metrics?.claimConflicts.inc({ loop: loop.name }, 0);
    this.#log = (options.logger ?? silentLogger()).child({ loop: loop.name, workProcess: loop.process });
    this.#claimFailures = new FailureStreak(this.#log, 'claim a machine', { quiet: (err) => bmdb.outage.covers(err) });
    this.#sweepFailures = new FailureStreak(this.#log, 'sweep the work schedule', { quiet: (err) => bmdb.outage.covers(err) });
  }

  get state(): RunnerState {
    return this.#state;
  }

  /**
   * Runs until `signal` aborts. Then it stops claiming machines, lets work in
   * flight run for up to the shutdown grace, aborts the tasks' signals and
   * cancels whatever work is still open, closes the session and resolves.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'new') throw new Error(`control loop ${this.loop.name} was already run`);
    this.#state = 'running';
    const hardStop = new AbortController();
    let graceTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      this.#state = 'stopping';
      this.#log.info({ graceMs: this.#options.shutdownGraceMs }, 'control loop stopping');
      graceTimer = setTimeout(() => hardStop.abort(new ShutdownGraceExpiredError(this.#options.shutdownGraceMs)), this.#options.shutdownGraceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    this.#log.info({ parallelism: this.#options.parallelism }, 'control loop running');
    // One session for the whole loop: its workers share it (and its one row
    // and keep-alive), whatever the parallelism.
    const keeper = new SessionKeeper(this.#bmdb, {
      component: `shepherd-${this.loop.name}`,
      processor: this.loop.processor,
      ...(this.#options.sessionIntervalMs === undefined ? {} : { intervalMs: this.#options.sessionIntervalMs }),
      errorPauseMs: this.#options.errorPauseMs,
      logger: this.#log,
    });
    try {
      const workers = Array.from({ length: this.#options.parallelism }, (_, i) => this.#worker(i, keeper, signal, hardStop.signal));
      await Promise.all([...workers, this.#sweep(signal)]);
    } finally {
      await keeper.close();
      clearTimeout(graceTimer);
      signal.removeEventListener('abort', onAbort);
      this.#state = 'stopped';
      this.#log.info('control loop stopped');
    }
  }

  async #worker(index: number, keeper: SessionKeeper, stopSourcing: AbortSignal, hardStop: AbortSignal): Promise<void> {
    const log = this.#log.child({ worker: index });
    let idleWaitMs = 0;
    while (!stopSourcing.aborted) {
      let session: Session;
      try {
        session = await keeper.current({ signal: stopSourcing });
      } catch {
        // The keeper logs the outage and paces the next attempt.
        continue;
      }
      if (!(await this.#bucket.take(stopSourcing))) break;
      let work: Work<MachineProvided>;
      try {
        // Aborting a claim at shutdown is safe: it rolls back, and a claim
        // that committed anyway goes with the session row when it is closed.
        work = await this.#claim(session, stopSourcing);
      } catch (err) {
        if (err instanceof NothingToDoError) {
          this.#claimFailures.succeeded();
          // While idle one worker polls, backing off so an empty fleet costs
          // a query a second, not a stream; the others wait until it finds work.
          if (this.#idle.becomePoller(index)) {
            idleWaitMs = Math.min(this.#options.maxIdleWaitMs, Math.max(MIN_IDLE_WAIT_MS, idleWaitMs * 2));
            await sleep(idleWaitMs, stopSourcing);
          } else {
            await this.#idle.wait(stopSourcing);
            idleWaitMs = 0;
          }
          continue;
        }
        this.#idle.active(index);
        if (err instanceof WorkConflictError) {
          this.#metrics?.claimConflicts.inc({ loop: this.loop.name });
          log.debug('lost a race for a machine, trying again');
        } else if (err instanceof SessionExpiredError) {
          // The keeper replaces it on the next turn.
        } else if (!stopSourcing.aborted) {
          this.#claimFailures.failed(err, { worker: index });
          await sleep(this.#options.errorPauseMs, stopSourcing);
        }
        continue;
      }
      this.#claimFailures.succeeded();
      idleWaitMs = 0;
      this.#idle.active(index);
      await this.#process(session, work, hardStop, log);
    }
    this.#idle.active(index);
  }

  /**
   * Claims the next machine: through the loop's candidate statement in one
   * statement when it has one (Session.claim), else with getMachines as the
   * retrieval (Session.work). Timed as the candidate query.
   */
  async #claim(session: Session, signal: AbortSignal): Promise<Work<MachineProvided>> {
    const statement = this.loop.candidateStatement;
    if (!statement) return session.work(this.loop.process, (q) => this.#candidate(q), { signal, retrieveWrites: this.loop.getMachinesWrites === true });
    const started = performance.now();
    let result = 'error';
    try {
      const work = await session.claim(this.loop.process, statement, { signal });
      result = 'found';
      return work;
    } catch (err) {
      if (err instanceof NothingToDoError) result = 'none';
      else if (err instanceof WorkConflictError) result = 'found';
      throw err;
    } finally {
      this.#metrics?.candidateQuery.observe({ loop: this.loop.name, result }, (performance.now() - started) / 1000);
    }
  }

  /** The loop's candidate query for one machine, timed. */
  async #candidate(q: Queries): Promise<MachineProvided | undefined> {
    const started = performance.now();
    let result = 'error';
    try {
      const machine = (await this.loop.getMachines(q, 1))[0];
      result = machine ? 'found' : 'none';
      return machine;
    } finally {
      this.#metrics?.candidateQuery.observe({ loop: this.loop.name, result }, (performance.now() - started) / 1000);
    }
  }

  /** Repairs work schedule hints in bounded steps until `signal` aborts (docs/architecture.md#work-schedule). */
  async #sweep(signal: AbortSignal): Promise<void> {
    let after: string | null = null;
    // The first step runs at once, so a restart repairs the start of the fleet first.
    for (; !signal.aborted; await sleep(this.#options.sweepIntervalMs, signal)) {
      try {
        const r = await this.#bmdb.transact(this.loop.processor, (q) => q.sweepWorkDue({ after, limit: this.#options.sweepLimit }, { signal }), { signal });
        if (r.repaired > 0) this.#log.info({ repaired: r.repaired }, 'work schedule sweep repaired hints');
        after = r.next;
        this.#sweepFailures.succeeded();
      } catch (err) {
        if (!signal.aborted) this.#sweepFailures.failed(err);
      }
    }
  }

  async #process(session: Session, work: Work<MachineProvided>, hardStop: AbortSignal, workerLog: Logger): Promise<void> {
    const machine = work.row;
    const log = workerLog.child({ machineId: machine.machineId, providerId: machine.providerId });
    const signal = AbortSignal.any([hardStop, work.signal]);
    const task: Task = { machine, work, session, backoff: this.loop.defaultBackoff, signal };
    log.debug('processing machine');
    try {
      // Racing the hard stop bounds shutdown even if processMachine ignores its signal.
      // (Not the work's signal: that aborts when processMachine itself finishes the work.)
      await raceSignal(this.loop.processMachine(task), hardStop);
      if (work.state === 'open') log.warn('processMachine returned without ending the work; canceling it');
    } catch (err) {
      if (hardStop.aborted) {
        log.warn('shutdown grace ran out while processing; canceling the work');
      } else if (work.state === 'open') {
        const cause = describeError(err);
        log.warn({ err }, 'processing failed');
        try {
          const seconds = await work.fail(task.backoff, cause, { signal: hardStop });
          log.info({ backoffSeconds: seconds, cause }, 'machine backed off');
        } catch (failErr) {
          if (failErr instanceof WorkLostError || failErr instanceof SessionExpiredError) log.warn({ err: failErr }, 'could not record the failure: the work was lost');
          else log.error({ err: failErr }, 'could not record the failure');
        }
      } else {
        log.warn({ err }, 'processing failed after the work ended');
      }
    } finally {
      await work.cancel();
    }
  }
}
