// A check that fails by raising an error in the database instead of returning
// a row for the caller to judge. Within one round trip the server runs
// nothing after a failed statement (pg-pipeline.ts), so a raising check can
// travel with the statements it guards and even with their COMMIT: when it
// fails, neither they nor the COMMIT run, and the transaction is left for the
// caller's rollback.
//
// Plain SQL, no procedural language: the failure is a cast of a marker text
// to an integer, which PostgreSQL, PGlite and CockroachDB all reject with
// SQLSTATE 22P02 and a message that quotes the text. The CASE depends on the
// statement's rows, so it is evaluated when the statement runs, never while
// it is planned.

const MARK = 'bmaas check failed: ';

/**
 * A SQL expression (an integer, 0) that raises when one of `cases` holds:
 * each is [a boolean SQL expression, the reason raisedReason returns for it],
 * tried in order. Reasons are fixed words, not data.
 */
export function raiseWhen(cases: readonly (readonly [condition: string, reason: string])[]): string {
  const whens = cases.map(([condition, reason]) => {
    if (!/^[a-z -]+$/.test(reason)) throw new RangeError(`a raised check's reason must be plain words, got ${JSON.stringify(reason)}`);
    return `WHEN ${condition} THEN '${MARK}${reason}'`;
  });
  return `CAST(CASE ${whens.join(' ')} ELSE '0' END AS int)`;
}

/** The reason of a check raiseWhen made fail, or undefined for any other error. */
export function raisedReason(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== '22P02') return undefined;
  const message = (err as { message?: unknown }).message;
  if (typeof message !== 'string') return undefined;
  const at = message.indexOf(MARK);
  if (at < 0) return undefined;
  return /^[a-z -]+/.exec(message.slice(at + MARK.length))?.[0];
}

/** Throws `onRaised`'s error when `err` is a check raiseWhen made fail, else `err` itself. */
export function rethrowRaised(err: unknown, onRaised: (reason: string) => never): never {
  const reason = raisedReason(err);
  if (reason) onRaised(reason);
  throw err;
}
