// Every read of the exporter: one READ ONLY transaction outside any session,
// so scruffy works under a role that may only SELECT (and cannot write by mistake).
import type { Bmdb, Queries } from '../bmdb/index.ts';

export type ReadFn = <T>(fn: (q: Queries) => Promise<T>, opts: { signal: AbortSignal }) => Promise<T>;

export function readOnly(bmdb: Bmdb): ReadFn {
  return (fn, opts) =>
    bmdb.transact(
      'scruffy-stats',
      async (q) => {
        await q.db.query('SET TRANSACTION READ ONLY', [], { signal: opts.signal });
        return fn(q);
      },
      { signal: opts.signal },
    );
}
