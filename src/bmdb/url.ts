// Parsing of `--bmdb-url`.
import path from 'node:path';
import { BmdbConfigError } from './errors.ts';

export type BmdbTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string | undefined /* undefined = in memory */ };

/**
 * Accepted forms:
 * - `postgres://user:pass@host:port/db?...` (or `postgresql://`): a PostgreSQL or CockroachDB server;
 * - `pglite://memory`: an embedded database that lives as long as the process;
 * - `pglite:///absolute/dir`: an embedded database stored in that directory.
 */
export function parseBmdbUrl(url: string): BmdbTarget {
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch (err) {
      throw new BmdbConfigError(`invalid --bmdb-url: not a valid URL`, { cause: err });
    }
    return { kind: 'postgres', url };
  }
  if (url === 'pglite://memory' || url === 'pglite://') return { kind: 'pglite', dataDir: undefined };
  if (url.startsWith('pglite://')) {
    const dir = url.slice('pglite://'.length);
    if (!path.isAbsolute(dir)) throw new BmdbConfigError(`invalid --bmdb-url ${JSON.stringify(url)}: use pglite://memory or pglite:///absolute/directory`);
    return { kind: 'pglite', dataDir: path.normalize(dir) };
  }
  throw new BmdbConfigError(
    `invalid --bmdb-url ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}: expected postgres://..., pglite://memory or pglite:///absolute/directory`,
  );
}
