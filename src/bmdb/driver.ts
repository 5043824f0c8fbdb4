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
}

/** Something that runs SQL: a transaction, or the driver in autocommit mode. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<R>>;
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
