// One driver transaction on one node-postgres client: the statements of
// PostgreSQL and of the embedded database (PGlite spoken to through
// node-postgres) take this one path. BEGIN is sent with the first statement
// and COMMIT, when that statement says so, with the last (pg-pipeline.ts); a
// transaction with no statement sends neither. Statements with parameters are
// named prepared statements, so a connection parses and plans each query once.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { raceSignal } from '../lib/race-signal.ts';
import type { Queryable, QueryOptions, QueryResult, Row, TransactionOptions } from './driver.ts';
import { pipeline } from './pg-pipeline.ts';
import { isQueryReadTimeout } from './pg-timeouts.ts';

// int8 (count(*), bigint columns) arrives as text by default; every bigint we
// store is a small number of seconds or a generation, so a JS number is exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

// Our SQL texts are a small fixed set; a statement's name is derived from its text.
const statementNames = new Map<string, string>();

/** The query config for `sql`: named (prepared once per connection) when it has parameters. */
export function statement(sql: string, params: readonly unknown[]): pg.QueryConfig {
  if (params.length === 0) return { text: sql };
  let name = statementNames.get(sql);
  if (!name) {
    name = `bmdb_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
}

export interface ClientTransactionOptions extends TransactionOptions {
  /**
   * True for a connection over a network: one aborted or timed out mid-query
   * is in an unknown state, so no ROLLBACK is sent down it and the caller
   * must destroy it (`broken`). False for an in-process database, which
   * always finishes a statement: the ROLLBACK queues behind it.
   */
  readonly mayBreak: boolean;
}

/** What the caller learns about the client once the transaction ended. */
interface ClientState {
  /** The connection's state is unknown: destroy it instead of reusing it. */
  broken: boolean;
}

/** Runs fn in one transaction on `client`: committed if fn resolves, rolled back if it throws. */
async function transactOnClient<T>(client: pg.ClientBase, fn: (tx: Queryable) => Promise<T>, opts: ClientTransactionOptions, state: ClientState): Promise<T> {
  let begin: string | undefined = opts.isolation === 'serializable' ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : 'BEGIN ISOLATION LEVEL READ COMMITTED';
  let ending = 'open' as 'open' | 'committing' | 'committed';
  const send = async <T>(query: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
    signal?.throwIfAborted();
    if (ending !== 'open') throw new Error('no statement may follow the one the transaction commits with');
    try {
      return await raceSignal(query(), signal);
    } catch (err) {
      if (opts.mayBreak && (signal?.aborted || isQueryReadTimeout(err))) state.broken = true;
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
    if (!state.broken && begin === undefined && ending !== 'committed') {
      try {
        await client.query('ROLLBACK');
      } catch {
        state.broken = true;
      }
    }
    throw err;
  }
}

/**
 * transactOnClient on a client of `pool`: waits for one (giving up when the
 * signal aborts) and returns it afterwards, destroyed when it broke.
 */
export async function transactOnPool<T>(pool: pg.Pool, fn: (tx: Queryable) => Promise<T>, opts: ClientTransactionOptions): Promise<T> {
  opts.signal?.throwIfAborted();
  const connecting = pool.connect();
  let client: pg.PoolClient;
  try {
    client = await raceSignal(connecting, opts.signal);
  } catch (err) {
    // Given up while waiting for the pool: the connection still comes, and
    // must go back, or every abandoned wait would leak one for good.
    if (opts.signal?.aborted) connecting.then((c) => c.release(), () => {});
    throw err;
  }
  const state: ClientState = { broken: false };
  try {
    return await transactOnClient(client, fn, opts, state);
  } finally {
    client.release(state.broken && opts.mayBreak ? true : undefined);
  }
}
