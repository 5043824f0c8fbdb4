// A check that a transaction must pass before anything else counts (a
// session's liveness, a work's fenced end), sent together with the first
// statement of the transaction's function instead of in a round trip of its
// own. The function sees no result before the check passed, and when it
// fails the transaction is rolled back, so what ran after it is undone: the
// outcome is that of running the check first. The one difference: should
// that first statement fail too, its error is the one reported.
//
// A check that fails by raising (raised-check.ts) stops the server before
// anything sent after it, so with one the first statements may also carry
// the transaction's COMMIT (QueryOptions.commits): the transaction then
// takes a single round trip.
import { queryAll, type Queryable, type QueryOptions, type QueryResult, type Statement } from './driver.ts';
import { rethrowRaised } from './raised-check.ts';

export interface LeadingStatement {
  /** The transaction as the function gets it: its first statement carries the check. */
  readonly db: Queryable;
  /** Runs the check if no statement carried it yet; call before the transaction commits. */
  settle(opts?: QueryOptions): Promise<void>;
}

/**
 * `verify` gets the check's result and throws when the transaction must not
 * go on. With `raised`, the check raises instead of failing in its result:
 * `raised` gets the reason and throws the error that stands for it.
 */
export function leadingStatement(tx: Queryable, check: Statement, verify: (r: QueryResult) => void, raised?: (reason: string) => never): LeadingStatement {
  let sent = false;
  // The check's result is judged before any other result is handed out.
  const withCheck = async (statements: readonly Statement[], opts: QueryOptions = {}): Promise<QueryResult[]> => {
    if (sent) return queryAll(tx, statements, opts);
    sent = true;
    // A check judged here never commits in the same round trip: it is judged first.
    let all: QueryResult[];
    try {
      all = await queryAll(tx, [check, ...statements], raised ? opts : { ...opts, commits: false });
    } catch (err) {
      if (raised) rethrowRaised(err, raised);
      throw err;
    }
    const [checked, ...results] = all;
    verify(checked!);
    return results;
  };
  const db: Queryable = {
    query: async (sql, params, opts) => (await withCheck([{ sql, ...(params ? { params } : {}) }], opts))[0]! as QueryResult<never>,
    batch: (statements, opts) => withCheck(statements, opts),
    exec: async (sql, opts) => {
      await withCheck([], opts);
      await tx.exec(sql, opts);
    },
  };
  return {
    db,
    settle: async (opts) => {
      if (!sent) await withCheck([], opts);
    },
  };
}
