// PostgreSQL (and CockroachDB) through node-postgres.
import type pg from 'pg';
import type { Logger } from 'pino';
import { raceSignal } from '../lib/race-signal.ts';
import { DatabaseOutage, isDatabaseUnreachable } from './outage.ts';
import { HostListPool, parsePgUrl, redactPgUrl } from './pg-hosts.ts';
import { PG_TIMEOUT_DEFAULTS, pgClientTimeouts, type PgTimeouts } from './pg-timeouts.ts';
import { type Driver, type Queryable, type QueryResult, type Row, type TransactionOptions } from './driver.ts';
import { statement, transactOnPool } from './pg-client-transaction.ts';

export interface PgDriverOptions {
  url: string;
  maxConnections: number;
  /** Bounds on a silent connection; default PG_TIMEOUT_DEFAULTS. */
  timeouts?: PgTimeouts;
  /** Told the outcome of every call; default: one of its own. */
  outage?: DatabaseOutage;
  logger: Logger;
}

export const redactUrl = redactPgUrl;

export class PgDriver implements Driver {
  readonly kind = 'postgres';
  readonly description: string;
  #pool: pg.Pool;
  readonly #outage: DatabaseOutage;

  constructor(opts: PgDriverOptions) {
    this.description = redactUrl(opts.url);
    // Several hosts and target_session_attrs: see pg-hosts.ts.
    this.#pool = new HostListPool(parsePgUrl(opts.url), {
      max: opts.maxConnections,
      idleTimeoutMillis: 30_000,
      ...pgClientTimeouts(opts.timeouts ?? PG_TIMEOUT_DEFAULTS),
    });
    // A server restart kills idle clients; without a listener that would crash
    // the process. The pool replaces them on next use.
    const outage = (this.#outage = opts.outage ?? new DatabaseOutage(opts.logger));
    this.#pool.on('error', (err) => {
      outage.failed(err);
      if (outage.covers(err)) opts.logger.debug({ err }, 'idle database connection failed');
      else opts.logger.warn({ err }, 'idle database connection failed');
    });
  }

  /** Tells the outage reporter how a call ended: any answer from the server, even an error, means it is reachable. */
  async #observe<T>(call: Promise<T>): Promise<T> {
    try {
      const result = await call;
      this.#outage.succeeded();
      return result;
    } catch (err) {
      if (isDatabaseUnreachable(err)) this.#outage.failed(err);
      else if (typeof err === 'object' && err !== null && 'severity' in err) this.#outage.succeeded();
      throw err;
    }
  }

  async query<R extends Row = Row>(sql: string, params: readonly unknown[] = [], opts: { signal?: AbortSignal | undefined } = {}): Promise<QueryResult<R>> {
    opts.signal?.throwIfAborted();
    const r = await this.#observe(raceSignal(this.#pool.query<R>(statement(sql, params)), opts.signal));
    return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
  }

  async exec(sql: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await this.#observe(raceSignal(this.#pool.query(sql), opts.signal));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T> {
    return this.#observe(this.#transaction(fn, opts));
  }

  // A connection aborted or timed out mid-query is in an unknown state: it is
  // destroyed instead of going back to the pool, and no ROLLBACK is sent down
  // a connection that stopped answering.
  #transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T> {
    return transactOnPool(this.#pool, fn, { ...opts, mayBreak: true });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
