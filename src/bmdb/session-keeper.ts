// The one place that keeps a component's BMDB session: starts it on first
// use, shares it between every caller, replaces it when it expires, and
// paces new attempts after a failure. A session is a process's (or a loop's)
// liveness, so however many workers use it, there is one row and one
// keep-alive.
import type { Logger } from 'pino';
import { raceSignal } from '../lib/race-signal.ts';
import { sleep } from '../lib/sleep.ts';
import { SessionExpiredError } from './errors.ts';
import type { DatabaseOutage } from './outage.ts';
import type { Session, SessionOptions } from './session.ts';

export interface SessionKeeperOptions extends Omit<SessionOptions, 'signal' | 'keepAliveSignal'> {
  /** After a failed start, the next attempt waits this long; default 1000 ms. */
  readonly errorPauseMs?: number;
  readonly logger: Logger;
}

/** What the keeper needs to start a session; `Bmdb` has it. */
export interface SessionStarter {
  startSession(opts: SessionOptions): Promise<Session>;
  /** The process's outage reporter: failures it accounts for are logged at debug here. */
  readonly outage?: DatabaseOutage;
}

export class SessionKeeper implements AsyncDisposable {
  readonly #starter: SessionStarter;
  readonly #options: Omit<SessionKeeperOptions, 'logger' | 'errorPauseMs'>;
  readonly #errorPauseMs: number;
  readonly #log: Logger;
  // Aborted by close(), so a start still waiting on the database gives up.
  readonly #closing = new AbortController();
  #current: Promise<Session> | undefined;
  // When the last start failed (0 = it did not), and how many failed in a row.
  #failedAt = 0;
  #failures = 0;

  constructor(starter: SessionStarter, options: SessionKeeperOptions) {
    const { errorPauseMs = 1000, logger, ...sessionOptions } = options;
    if (!Number.isFinite(errorPauseMs) || errorPauseMs < 0) throw new RangeError(`errorPauseMs must be 0 or more, got ${errorPauseMs}`);
    this.#starter = starter;
    this.#options = Object.freeze(sessionOptions);
    this.#errorPauseMs = errorPauseMs;
    this.#log = logger.child({ component: options.component });
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * The live session, started (once, for all concurrent callers) when there
   * is none or the last one expired. After a failed start the next attempt
   * waits out the error pause. Waiting ends when `signal` aborts; the start
   * itself goes on for the other callers.
   * @throws the start's error when it failed (logged once per outage, not per attempt).
   * @throws SessionExpiredError after close().
   */
  async current(opts: { signal?: AbortSignal } = {}): Promise<Session> {
    for (;;) {
      if (this.closed) throw new SessionExpiredError(`${this.#options.component} is shutting down`);
      const pending = this.#current;
      if (pending === undefined) {
        await this.#waitOutErrorPause(opts.signal);
        if (this.#current === undefined && !this.closed) this.#current = this.#start();
        continue;
      }
      const session = await raceSignal(pending, opts.signal);
      if (!session.expired) return session;
      // Replace it (once, whoever notices first), and free its row and work.
      if (this.#current === pending) {
        this.#current = undefined;
        const level = this.#starter.outage?.accountsForSessionLoss(2 * session.intervalMs) ? 'debug' : 'warn';
        this.#log[level]({ sessionId: session.sessionId }, 'BMDB session expired, starting a new one');
        void session.close();
      }
    }
  }

  /**
   * Runs fn with the live session; when fn fails because that session
   * expired, runs it once more on a fresh one.
   */
  async withSession<T>(fn: (session: Session) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.current(opts);
      try {
        return await fn(session);
      } catch (err) {
        if (!(err instanceof SessionExpiredError) || attempt > 0 || this.closed) throw err;
      }
    }
  }

  async #waitOutErrorPause(signal: AbortSignal | undefined): Promise<void> {
    const left = this.#failedAt + this.#errorPauseMs - Date.now();
    if (this.#failedAt === 0 || left <= 0) return;
    await sleep(left, signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal);
    signal?.throwIfAborted();
  }

  #start(): Promise<Session> {
    const starting = this.#starter.startSession({ ...this.#options, signal: this.#closing.signal });
    starting.then(
      (s) => {
        if (this.#failures > 0) this.#log.info({ sessionId: s.sessionId, failedAttempts: this.#failures }, 'started BMDB session after failed attempts');
        else this.#log.info({ sessionId: s.sessionId }, 'started BMDB session');
        this.#failedAt = 0;
        this.#failures = 0;
        // Closed while it was starting: nobody else will close it.
        if (this.closed) void s.close();
      },
      (err: unknown) => {
        if (this.#current === starting) this.#current = undefined;
        if (this.closed) return;
        this.#failures++;
        this.#failedAt = Date.now();
        if (this.#failures === 1 && !this.#starter.outage?.covers(err)) this.#log.error({ err, retryEveryMs: this.#errorPauseMs }, 'could not start a BMDB session; retrying');
        else this.#log.debug({ err, failedAttempts: this.#failures }, 'could not start a BMDB session');
      },
    );
    return starting;
  }

  /** Closes the session (cancelling its open work, deleting its row). Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new SessionExpiredError(`${this.#options.component} is shutting down`));
    const session = await this.#current?.catch(() => undefined);
    this.#current = undefined;
    await session?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
