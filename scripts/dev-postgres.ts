// npm run dev:postgres: a PostgreSQL for trying bmaas by hand (the embedded
// PGlite cannot be shared by a server and a shepherd running side by side).
// Starts a throwaway cluster with the test harness, creates the database,
// prints its URL and writes it to a file for the other terminals; Ctrl-C stops
// the cluster and deletes it. With --existing, only creates the database on a
// server you already run.
//
//   npm run dev:postgres [-- --dir DIR] [--database NAME] [--url-file PATH] [--existing ADMIN_URL]
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { startPgCluster, type PgCluster } from '../test/pg-cluster.ts';
import { ScriptUsageError, parseScriptArgs } from './script-args.ts';
import { interruptSignal, untilAborted } from './until-interrupted.ts';

const USAGE = 'usage: npm run dev:postgres -- [--dir DIR] [--database NAME] [--url-file PATH] [--existing ADMIN_URL]';

function options(argv: string[]): { dir: string | undefined; database: string; urlFile: string; existing: string | undefined } {
  const values = parseScriptArgs(
    argv,
    {
      dir: { type: 'string' },
      database: { type: 'string', default: 'bmaas' },
      'url-file': { type: 'string', default: '.bmaas/postgres.url' },
      existing: { type: 'string' },
    },
    USAGE,
  );
  if (!/^[a-z_][a-z0-9_]*$/.test(values.database)) throw new ScriptUsageError(`--database ${JSON.stringify(values.database)}: use lower-case letters, digits and _`);
  return { dir: values.dir, database: values.database, urlFile: path.resolve(values['url-file']), existing: values.existing };
}

/** Relative to the working directory when below it, else absolute. */
function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') ? rel : p;
}

/** Creates `database` unless it exists; returns its URL (the admin URL with another path). */
async function ensureDatabase(adminUrl: string, database: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
  opts.signal?.throwIfAborted();
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    // The name was checked to be a plain identifier, so it needs no quoting.
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const interrupted = interruptSignal();

  let cluster: PgCluster | undefined;
  if (opts.existing === undefined) {
    cluster = await startPgCluster({ signal: interrupted, ...(opts.dir ? { parentDir: path.resolve(opts.dir) } : {}) });
    // Last resort should anything below throw: never leave a postgres behind.
    process.once('exit', () => cluster?.stopSync());
  }
  try {
    const url = await ensureDatabase(cluster?.adminUrl ?? opts.existing!, opts.database, { signal: interrupted });
    await mkdir(path.dirname(opts.urlFile), { recursive: true });
    await writeFile(opts.urlFile, `${url}\n`);
    const where = cluster ? `throwaway cluster in ${path.dirname(cluster.dataDir)}` : 'existing server';
    process.stdout.write(`PostgreSQL (${where}) ready:\n  ${url}\n  (also written to ${shownPath(opts.urlFile)})\n`);
    if (!cluster) return;
    process.stdout.write('Ctrl-C stops the cluster and deletes its data.\n');
    await untilAborted(interrupted);
  } finally {
    if (cluster) {
      await cluster.stop();
      await rm(opts.urlFile, { force: true });
      process.stdout.write('PostgreSQL stopped and deleted.\n');
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-postgres: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof ScriptUsageError ? 2 : 1;
});
