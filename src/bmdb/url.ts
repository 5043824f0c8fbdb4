// Parsing of `--bmdb-url`.
import path from 'node:path';
import { BmdbConfigError } from './errors.ts';
import { parsePgUrl, redactPgUrl } from './pg-hosts.ts';

export type BmdbTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string | undefined /* undefined = in memory */ };

/**
 * Accepted forms:
 * - `postgres://user:pass@host:port/db?...` (or `postgresql://`): a PostgreSQL or CockroachDB server;
 *   several `host:port` separated by commas, with `target_session_attrs=read-write`, follow a failover (pg-hosts.ts);
 * - `pglite://memory`: an embedded database that lives as long as the process;
 * - `pglite:///absolute/dir`: an embedded database stored in that directory.
 */
export function parseBmdbUrl(url: string): BmdbTarget {
  if (/^postgres(ql)?:\/\//.test(url)) {
    parsePgUrl(url);
    return { kind: 'postgres', url };
  }
  if (url === 'pglite://memory' || url === 'pglite://') return { kind: 'pglite', dataDir: undefined };
  if (url.startsWith('pglite://')) {
    const dir = url.slice('pglite://'.length);
    if (!path.isAbsolute(dir)) throw new BmdbConfigError(`invalid --bmdb-url ${JSON.stringify(url)}: use pglite://memory or pglite:///absolute/directory`);
    return { kind: 'pglite', dataDir: path.normalize(dir) };
  }
  throw new BmdbConfigError(
    `invalid --bmdb-url ${JSON.stringify(redactPgUrl(url))}: expected postgres://..., pglite://memory or pglite:///absolute/directory`,
  );
}
