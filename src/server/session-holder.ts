// The server's one long-lived BMDB session, shared by all calls and replaced
// when it expires (e.g. after the database was unreachable for a while).
import type { Logger } from 'pino';
import { SessionExpiredError, type Bmdb, type Queries, type Session } from '../bmdb/index.ts';

export class SessionHolder {
  readonly #bmdb: Bmdb;
  readonly #logger: Logger;
  readonly #intervalMs: number | undefined;
  #current: Promise<Session> | undefined;
  #closed = false;

  constructor(bmdb: Bmdb, opts: { logger: Logger; intervalMs?: number }) {
    this.#bmdb = bmdb;
    this.#logger = opts.logger;
    this.#intervalMs = opts.intervalMs;
  }

  async #session(): Promise<Session> {
    if (this.#closed) throw new SessionExpiredError('the server is shutting down');
    const pending = this.#current;
    if (pending) {
      const s = await pending.catch(() => undefined);
      if (s && !s.expired) return s;
      if (this.#current === pending) this.#current = undefined;
      if (s) void s.close().catch(() => {});
      if (this.#current) return this.#session();
    }
    const starting = this.#bmdb.startSession({ component: 'bmsrv', processor: 'bmsrv', ...(this.#intervalMs ? { intervalMs: this.#intervalMs } : {}) });
    this.#current = starting;
    try {
      const s = await starting;
      this.#logger.info({ sessionId: s.sessionId }, 'started BMDB session');
      return s;
    } catch (err) {
      if (this.#current === starting) this.#current = undefined;
      throw err;
    }
  }

  /**
   * Runs fn in a session transaction; an expired session is replaced once.
   * @throws SessionExpiredError when the replacement also expired, or after close.
   */
  async transact<T>(fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.#session();
      try {
        return await session.transact(fn, opts);
      } catch (err) {
        if (!(err instanceof SessionExpiredError) || attempt > 0 || this.#closed) throw err;
        this.#logger.warn({ sessionId: session.sessionId }, 'BMDB session expired, starting a new one');
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const s = await this.#current?.catch(() => undefined);
    this.#current = undefined;
    await s?.close();
  }
}
