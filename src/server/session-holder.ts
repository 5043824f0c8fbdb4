// The server's one long-lived BMDB session, shared by all calls and replaced
// when it expires (e.g. after the database was unreachable for a while).
import type { Logger } from 'pino';
import { SessionExpiredError, type Bmdb, type Queries, type Session } from '../bmdb/index.ts';

/**
 * Waits for `promise` but gives up when `signal` aborts. The promise itself
 * goes on: a session start is shared, so one call's deadline must not cancel
 * it for the others.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

export class SessionHolder {
  readonly #bmdb: Bmdb;
  readonly #logger: Logger;
  readonly #intervalMs: number | undefined;
  // Aborted by close(), so a session start still waiting on the database gives up.
  readonly #closing = new AbortController();
  #current: Promise<Session> | undefined;

  constructor(bmdb: Bmdb, opts: { logger: Logger; intervalMs?: number }) {
    this.#bmdb = bmdb;
    this.#logger = opts.logger;
    this.#intervalMs = opts.intervalMs;
  }

  async #session(signal: AbortSignal | undefined): Promise<Session> {
    if (this.#closing.signal.aborted) throw new SessionExpiredError('the server is shutting down');
    const pending = this.#current;
    if (pending) {
      const s = await untilAborted(
        pending.catch(() => undefined),
        signal,
      );
      if (s && !s.expired) return s;
      if (this.#current === pending) this.#current = undefined;
      if (s) void s.close().catch(() => {});
      if (this.#current) return this.#session(signal);
    }
    const starting = this.#bmdb.startSession({
      component: 'bmsrv',
      processor: 'bmsrv',
      signal: this.#closing.signal,
      ...(this.#intervalMs ? { intervalMs: this.#intervalMs } : {}),
    });
    this.#current = starting;
    starting.then(
      (s) => this.#logger.info({ sessionId: s.sessionId }, 'started BMDB session'),
      () => {
        if (this.#current === starting) this.#current = undefined;
      },
    );
    return untilAborted(starting, signal);
  }

  /**
   * Runs fn in a session transaction; an expired session is replaced once.
   * Waiting for a session to start ends when `signal` aborts.
   * @throws SessionExpiredError when the replacement also expired, or after close.
   */
  async transact<T>(fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.#session(opts.signal);
      try {
        return await session.transact(fn, opts);
      } catch (err) {
        if (!(err instanceof SessionExpiredError) || attempt > 0 || this.#closing.signal.aborted) throw err;
        this.#logger.warn({ sessionId: session.sessionId }, 'BMDB session expired, starting a new one');
      }
    }
  }

  async close(): Promise<void> {
    this.#closing.abort(new SessionExpiredError('the server is shutting down'));
    const s = await this.#current?.catch(() => undefined);
    this.#current = undefined;
    await s?.close();
  }
}
