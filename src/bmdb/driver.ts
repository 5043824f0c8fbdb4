// The seam between the BMDB and a concrete database client. Two implementations
// exist: node-postgres for PostgreSQL/CockroachDB and PGlite for the embedded
// default. Everything above this file speaks only `Queryable` and `Driver`.

export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  /** Rows inserted, updated, deleted or returned. */
  rowCount: number;
}

export interface QueryOptions {
  /** Aborting rejects the pending call; the transaction it belongs to is rolled back. */
  signal?: AbortSignal | undefined;
  /**
   * In a transaction: this is its last statement, and the transaction
   * commits with it (PostgreSQL: in the same round trip) whatever the
   * transaction's function does afterwards, throwing included. Only for a
   * statement whose writes stand even when its result makes the caller
   * give up; no statement may follow. Ignored outside a transaction.
   */
  commits?: boolean;
}

/** One statement of a batch. */
export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/** Something that runs SQL: a transaction, or the driver in autocommit mode. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<R>>;
  /**
   * Runs independent statements in order, in one round trip (PostgreSQL
   * transactions); stops at the first error. Use queryAll, which falls back
   * to one query after the other where this is missing.
   */
  batch?(statements: readonly Statement[], opts?: QueryOptions): Promise<QueryResult[]>;
  /** Runs a script of several statements with no parameters (migrations). */
  exec(sql: string, opts?: QueryOptions): Promise<void>;
}

export type IsolationLevel = 'read committed' | 'serializable';

export interface TransactionOptions {
  isolation: IsolationLevel;
  signal?: AbortSignal | undefined;
}

export interface Driver extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** A description safe to print (no password). */
  readonly description: string;
  /** Runs fn in one transaction: committed if fn resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

/** Runs statements that do not depend on each other's results, in order: in one round trip where `db` can (Queryable.batch). */
export async function queryAll(db: Queryable, statements: readonly Statement[], opts?: QueryOptions): Promise<QueryResult[]> {
  if (db.batch) return db.batch(statements, opts);
  const results: QueryResult[] = [];
  for (const s of statements) results.push(await db.query(s.sql, s.params, opts));
  return results;
}
