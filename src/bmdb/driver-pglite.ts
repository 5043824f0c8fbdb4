// The embedded database: PostgreSQL compiled to WebAssembly, in this process.
// It runs one transaction at a time, which is what makes it safe for a whole
// single-process system and useless for showing races.
import { PGlite } from '@electric-sql/pglite';
import type { Driver, Queryable, QueryResult, Row, TransactionOptions } from './driver.ts';

export class PgliteDriver implements Driver {
  readonly kind = 'pglite';
  readonly description: string;
  #db: PGlite;

  private constructor(db: PGlite, description: string) {
    this.#db = db;
    this.description = description;
  }

  /** dataDir undefined = in memory. */
  static async open(dataDir: string | undefined): Promise<PgliteDriver> {
    const db = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create();
    return new PgliteDriver(db, dataDir ? `pglite://${dataDir}` : 'pglite://memory');
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
    await this.#db.close();
  }
}
