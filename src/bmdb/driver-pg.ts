// PostgreSQL (and CockroachDB) through node-postgres.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { raceSignal } from '../lib/race-signal.ts';
import { DatabaseOutage, isDatabaseUnreachable } from './outage.ts';
import { HostListPool, parsePgUrl, redactPgUrl } from './pg-hosts.ts';
import { isQueryReadTimeout, PG_TIMEOUT_DEFAULTS, pgClientTimeouts, type PgTimeouts } from './pg-timeouts.ts';
import { type Driver, type Queryable, type QueryOptions, type QueryResult, type Row, type TransactionOptions } from './driver.ts';
import { pipeline } from './pg-pipeline.ts';

// int8 (count(*), bigint columns) arrives as text by default; every bigint we
// store is a small number of seconds or a generation, so a JS number is exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

// Statements with parameters run as named prepared statements, so each
// connection parses and plans a query once rather than on every call. Our SQL
// texts are a small fixed set; the name is derived from the text.
const statementNames = new Map<string, string>();
function statement(sql: string, params: readonly unknown[]): pg.QueryConfig {
  if (params.length === 0) return { text: sql };
  let name = statementNames.get(sql);
  if (!name) {
    name = `bmdb_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
}

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

  async #transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T> {
    opts.signal?.throwIfAborted();
    const connecting = this.#pool.connect();
    let client: pg.PoolClient;
    try {
      client = await raceSignal(connecting, opts.signal);
    } catch (err) {
      // Given up while waiting for the pool: the connection still comes, and
      // must go back, or every abandoned wait would leak one for good.
      if (opts.signal?.aborted) connecting.then((c) => c.release(), () => {});
      throw err;
    }
    // Set when the connection's state is unknown (aborted or timed out
    // mid-query, failed rollback): it is destroyed instead of going back to
    // the pool, and no ROLLBACK is sent down a connection that stopped answering.
    let broken = false;
    // BEGIN is sent with the first statement and COMMIT, when that statement
    // says so, with the last (pg-pipeline.ts); a transaction with no
    // statement sends neither.
    let begin: string | undefined = opts.isolation === 'serializable' ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : 'BEGIN ISOLATION LEVEL READ COMMITTED';
    let ending = 'open' as 'open' | 'committing' | 'committed';
    const send = async <T>(query: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
      signal?.throwIfAborted();
      if (ending !== 'open') throw new Error('no statement may follow the one the transaction commits with');
      try {
        return await raceSignal(query(), signal);
      } catch (err) {
        if (signal?.aborted || isQueryReadTimeout(err)) broken = true;
        throw err;
      }
    };
    // The statements, with the pending BEGIN before them and COMMIT after
    // them when they end the transaction, in one round trip.
    const run = async <R extends Row>(configs: pg.QueryConfig[], qopts: QueryOptions): Promise<QueryResult<R>[]> => {
      const before = begin === undefined ? [] : [begin];
      const parts = [...before, ...configs, ...(qopts.commits ? ['COMMIT'] : [])];
      const results = await send(() => {
        begin = undefined;
        if (qopts.commits) ending = 'committing';
        return parts.length === 1 ? client.query<R>(configs[0]!).then((r) => [r]) : pipeline<R>(client, parts);
      }, qopts.signal ?? opts.signal);
      if (qopts.commits) ending = 'committed';
      return results.slice(before.length, before.length + configs.length).map((r) => ({ rows: r.rows, rowCount: r.rowCount ?? r.rows.length }));
    };
    const tx: Queryable = {
      // Without parameters node-postgres uses the simple protocol, which accepts several statements.
      exec: async (sql, qopts = {}) => {
        const signal = qopts.signal ?? opts.signal;
        if (begin !== undefined) await send(() => client.query(begin!), signal);
        begin = undefined;
        await send(() => client.query(sql), signal);
      },
      query: async <R extends Row>(sql: string, params: readonly unknown[] = [], qopts: QueryOptions = {}) => {
        const [r] = await run<R>([statement(sql, params)], qopts);
        return r!;
      },
      batch: (statements, qopts = {}) => run(statements.map((s) => statement(s.sql, s.params ?? [])), qopts),
    };
    try {
      const result = await fn(tx);
      // 'committing': fn went on after the statement it meant to commit with had failed.
      if (ending === 'committing') throw new Error('the statement the transaction was to commit with failed');
      if (begin === undefined && ending === 'open') await send(() => client.query('COMMIT'), opts.signal);
      return result;
    } catch (err) {
      // Nothing to roll back when nothing was sent or the COMMIT went through
      // (a failed one ends the transaction too; a ROLLBACK then only warns).
      if (!broken && begin === undefined && ending !== 'committed') {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
      }
      throw err;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
