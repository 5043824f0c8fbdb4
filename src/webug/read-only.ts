// Every read webug makes goes through here: one READ ONLY transaction, so a
// bug in this UI can never write to the BMDB.
import type { Bmdb, Queryable } from '../bmdb/index.ts';

export type ReadFn = <T>(fn: (db: Queryable) => Promise<T>, opts?: { signal?: AbortSignal | undefined }) => Promise<T>;

export function readOnly(bmdb: Bmdb): ReadFn {
  return (fn, opts = {}) =>
    bmdb.driver.transaction(
      async (tx) => {
        await tx.query('SET TRANSACTION READ ONLY', [], { signal: opts.signal });
        return fn(tx);
      },
      { isolation: bmdb.options.isolation, signal: opts.signal },
    );
}
