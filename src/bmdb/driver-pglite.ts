// The embedded database: PostgreSQL compiled to WebAssembly, in this process.
// It runs one transaction at a time, which is what makes it safe for a whole
// single-process system and useless for showing races.
//
// It is spoken to through node-postgres over PGlite's own adapter (one
// connection), so it takes the PostgreSQL driver's path: named prepared
// statements and pipelined transactions (pg-client-transaction.ts). PGlite's
// own query() parses and plans every statement on every call, which for our
// larger candidate and claim statements cost about 5 times the prepared run
// (3.9 ms against 0.7 ms for an agent start candidate query at 1,000
// machines) and made the embedded database the limit of `bmaas dev`.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import { acquirePidLock, LockHeldError } from '../lib/pid-lock.ts';
import { raceSignal } from '../lib/race-signal.ts';
import type { Driver, Queryable, QueryResult, Row, TransactionOptions } from './driver.ts';
import { BmdbConfigError } from './errors.ts';
import { statement, transactOnPool } from './pg-client-transaction.ts';

export class PgliteDriver implements Driver {
  readonly kind = 'pglite';
  readonly description: string;
  #db: PGlite;
  // One client on PGlite's one connection: transactions and statements queue for it.
  #pool: pg.Pool;
  #lock: AsyncDisposable | undefined;

  private constructor(db: PGlite, description: string, lock: AsyncDisposable | undefined) {
    this.#db = db;
    this.description = description;
    this.#lock = lock;
    this.#pool = new pg.Pool({ ...(createPgConfig(db) as unknown as pg.PoolConfig), max: 1, idleTimeoutMillis: 0 });
    // Nothing here can fail on its own (no network), but an error event without a listener would end the process.
    this.#pool.on('error', () => {});
  }

  /**
   * dataDir undefined = in memory. A directory belongs to one process at a
   * time (a second PGlite on the same files would corrupt them), enforced by
   * a lock file next to it.
   * @throws BmdbConfigError when another live process has the directory open.
   */
  static async open(dataDir: string | undefined): Promise<PgliteDriver> {
    if (!dataDir) return new PgliteDriver(await PGlite.create(), 'pglite://memory', undefined);
    const dir = path.resolve(dataDir);
    await mkdir(path.dirname(dir), { recursive: true });
    let lock: AsyncDisposable;
    try {
      lock = await acquirePidLock(`${dir}.lock`, (pid) => `the embedded database ${dir} is open in another process (pid ${pid}); stop it, or use PostgreSQL (--bmdb-url) to share a BMDB`);
    } catch (err) {
      if (err instanceof LockHeldError) throw new BmdbConfigError(err.message, { cause: err });
      throw err;
    }
    try {
      return new PgliteDriver(await PGlite.create({ dataDir: dir }), `pglite://${dir}`, lock);
    } catch (err) {
      await lock[Symbol.asyncDispose]();
      throw err;
    }
  }

  async query<R extends Row = Row>(sql: string, params: readonly unknown[] = [], opts: { signal?: AbortSignal | undefined } = {}): Promise<QueryResult<R>> {
    opts.signal?.throwIfAborted();
    const r = await raceSignal(this.#pool.query<R>(statement(sql, params)), opts.signal);
    return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
  }

  async exec(sql: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await raceSignal(this.#pool.query(sql), opts.signal);
  }

  /**
   * PGlite has no isolation choice to make (nothing runs concurrently), but
   * the transaction names its level as on PostgreSQL, so the SQL we run is
   * the same on both.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T> {
    return transactOnPool(this.#pool, fn, { ...opts, mayBreak: false });
  }

  async close(): Promise<void> {
    try {
      await this.#pool.end();
      await this.#db.close();
    } finally {
      await this.#lock?.[Symbol.asyncDispose]();
      this.#lock = undefined;
    }
  }
}
