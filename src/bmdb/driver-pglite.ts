// The embedded database: PostgreSQL compiled to WebAssembly, in this process.
// It runs one transaction at a time, which is what makes it safe for a whole
// single-process system and useless for showing races.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { acquirePidLock, LockHeldError } from '../lib/pid-lock.ts';
import type { Driver, Queryable, QueryResult, Row, TransactionOptions } from './driver.ts';
import { BmdbConfigError } from './errors.ts';

export class PgliteDriver implements Driver {
  readonly kind = 'pglite';
  readonly description: string;
  #db: PGlite;
  #lock: AsyncDisposable | undefined;

  private constructor(db: PGlite, description: string, lock: AsyncDisposable | undefined) {
    this.#db = db;
    this.description = description;
    this.#lock = lock;
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
    const r = await this.#db.query<R>(sql, params as unknown[]);
    return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
  }

  async exec(sql: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await this.#db.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T> {
    opts.signal?.throwIfAborted();
    return this.#db.transaction(async (t) => {
      // PGlite has no isolation choice to make (nothing runs concurrently), but
      // the statement keeps the SQL we run identical across drivers.
      if (opts.isolation === 'serializable') await t.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      const tx: Queryable = {
        exec: async (sql, qopts = {}) => {
          (qopts.signal ?? opts.signal)?.throwIfAborted();
          await t.exec(sql);
        },
        query: async <R extends Row>(sql: string, params: readonly unknown[] = [], qopts: { signal?: AbortSignal | undefined } = {}) => {
          (qopts.signal ?? opts.signal)?.throwIfAborted();
          const r = await t.query<R>(sql, params as unknown[]);
          return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
        },
      };
      return fn(tx);
    });
  }

  async close(): Promise<void> {
    try {
      await this.#db.close();
    } finally {
      await this.#lock?.[Symbol.asyncDispose]();
      this.#lock = undefined;
    }
  }
}
