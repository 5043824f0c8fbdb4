// The control loop runner (docs/architecture.md#control-loop-runner, the seed's controlLoopRunner):
// `parallelism` workers, each keeping a BMDB session for as long as it can,
// each iteration waiting on the shared DB-query token bucket, claiming one
// machine through Work and handing it to the loop.
import type { Logger } from 'pino';
import {
  NothingToDoError,
  SessionExpiredError,
  WorkConflictError,
  WorkLostError,
  type Bmdb,
  type MachineProvided,
  type Session,
} from '../bmdb/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { TokenBucket, type RateLimit } from '../lib/rate.ts';
import { raceSignal } from '../lib/race-signal.ts';
import { sleep } from '../lib/sleep.ts';
import type { ControlLoop, Task } from './control-loop.ts';
import { describeError, ShutdownGraceExpiredError } from './errors.ts';

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
  readonly logger?: Logger;
}

/** `new` until `run` is called; `stopping` from the abort until the last worker ends. */
export type RunnerState = 'new' | 'running' | 'stopping' | 'stopped';

const MIN_IDLE_WAIT_MS = 50;

export class ControlLoopRunner {
  readonly loop: ControlLoop;
  readonly #bmdb: Bmdb;
  readonly #options: Required<Omit<ControlLoopRunnerOptions, 'logger' | 'sessionIntervalMs'>> & { sessionIntervalMs?: number };
  readonly #bucket: TokenBucket;
  readonly #log: Logger;
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
      ...(options.sessionIntervalMs === undefined ? {} : { sessionIntervalMs: options.sessionIntervalMs }),
    });
    this.#bucket = new TokenBucket(options.dbQueryRate);
    this.#log = (options.logger ?? silentLogger()).child({ loop: loop.name, workProcess: loop.process });
  }

  get state(): RunnerState {
    return this.#state;
  }

  /**
   * Runs until `signal` aborts. Then it stops claiming machines, lets work in
   * flight run for up to the shutdown grace, aborts the tasks' signals and
   * cancels whatever work is still open, closes the sessions and resolves.
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
    try {
      const workers = Array.from({ length: this.#options.parallelism }, (_, i) => this.#worker(i, signal, hardStop.signal));
      await Promise.all(workers);
    } finally {
      clearTimeout(graceTimer);
      signal.removeEventListener('abort', onAbort);
      this.#state = 'stopped';
      this.#log.info('control loop stopped');
    }
  }

  async #worker(index: number, stopSourcing: AbortSignal, hardStop: AbortSignal): Promise<void> {
    const log = this.#log.child({ worker: index });
    let session: Session | undefined;
    let idleWaitMs = 0;
    try {
      while (!stopSourcing.aborted) {
        if (session?.expired) {
          log.warn('BMDB session expired, starting a new one');
          await session.close();
          session = undefined;
        }
        if (session === undefined) {
          try {
            session = await this.#bmdb.startSession({
              component: `shepherd-${this.loop.name}`,
              processor: this.loop.processor,
              ...(this.#options.sessionIntervalMs === undefined ? {} : { intervalMs: this.#options.sessionIntervalMs }),
              signal: stopSourcing,
            });
          } catch (err) {
            if (stopSourcing.aborted) break;
            log.error({ err }, 'could not start a BMDB session');
            await sleep(this.#options.errorPauseMs, stopSourcing);
            continue;
          }
        }
        if (!(await this.#bucket.take(stopSourcing))) break;

        let claimed: { machine: MachineProvided; work: Task['work'] };
        try {
          claimed = await this.#source(session, hardStop);
        } catch (err) {
          if (err instanceof NothingToDoError) {
            // Back off while idle so an empty fleet costs a query a second, not a stream.
            idleWaitMs = Math.min(this.#options.maxIdleWaitMs, Math.max(MIN_IDLE_WAIT_MS, idleWaitMs * 2));
            await sleep(idleWaitMs, stopSourcing);
          } else if (err instanceof WorkConflictError) {
            log.debug('lost a race for a machine, trying again');
          } else if (err instanceof SessionExpiredError) {
            // Handled at the top of the loop.
          } else if (!stopSourcing.aborted) {
            log.error({ err }, 'could not claim a machine');
            await sleep(this.#options.errorPauseMs, stopSourcing);
          }
          continue;
        }
        idleWaitMs = 0;
        await this.#process(session, claimed, hardStop, log);
      }
    } finally {
      await session?.close();
    }
  }

  async #source(session: Session, hardStop: AbortSignal): Promise<{ machine: MachineProvided; work: Task['work'] }> {
    let machine: MachineProvided | undefined;
    const work = await session.work(
      this.loop.process,
      async (q) => {
        const machines = await this.loop.getMachines(q, 1);
        machine = machines[0];
        if (machine === undefined) throw new NothingToDoError();
        return [machine.machineId];
      },
      { signal: hardStop },
    );
    return { machine: machine!, work };
  }

  async #process(session: Session, claimed: { machine: MachineProvided; work: Task['work'] }, hardStop: AbortSignal, workerLog: Logger): Promise<void> {
    const { machine, work } = claimed;
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

/** Runs `loop` until `signal` aborts; see ControlLoopRunner.run. */
export function runControlLoop(bmdb: Bmdb, loop: ControlLoop, options: ControlLoopRunnerOptions & { signal: AbortSignal }): Promise<void> {
  return new ControlLoopRunner(bmdb, loop, options).run(options.signal);
}
