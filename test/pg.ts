// Per-test-file PostgreSQL API: one fresh database per call, on the cluster the test
// runner started (BMAAS_TEST_PG_ADMIN_URL) or, when a file is run on its own, on a
// private cluster started lazily and torn down when this process exits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { findPgBinDir, pgSearchDescription, startPgCluster, type PgCluster } from './pg-cluster.ts';

/** Admin URL of a shared cluster; set by test/run-tests.ts for its children. */
export const ADMIN_URL_ENV = 'BMAAS_TEST_PG_ADMIN_URL';
/** Set by test/run-tests.ts when it could not start a cluster: the reason, so files skip. */
export const UNAVAILABLE_ENV = 'BMAAS_TEST_PG_UNAVAILABLE';

export interface TestDatabase {
  /** Connection URL of the new database (superuser, trust auth). */
  readonly url: string;
  /** Drops the database, terminating its remaining connections. Idempotent. */
  drop(opts?: { signal?: AbortSignal }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Thrown when creating or dropping a test database fails. */
export class TestDatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestDatabaseError';
  }
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailableReason(): string | undefined {
  if (process.env[ADMIN_URL_ENV]) return undefined;
  const reported = process.env[UNAVAILABLE_ENV];
  if (reported) return reported;
  if (findPgBinDir() === undefined) {
    return `PostgreSQL could not be found (looked in ${pgSearchDescription()}; or set ${ADMIN_URL_ENV})`;
  }
  return undefined;
}

/** CI and developers who ask for it get a failure, not a skip, when PostgreSQL is missing. */
export function postgresRequired(): boolean {
  return process.env.CI === 'true' || process.env.BMAAS_REQUIRE_PG === '1';
}

/**
 * `describe` for suites that need PostgreSQL, named `[postgres] <name>` so the runner
 * can report them. Without PostgreSQL the suite is skipped, or fails when required.
 */
export function describePostgres(name: string, fn: () => void): void {
  const title = `[postgres] ${name}`;
  const reason = postgresUnavailableReason();
  if (reason === undefined) {
    void describe(title, fn);
  } else if (postgresRequired()) {
    void describe(title, () => {
      void it('has PostgreSQL available', () => {
        assert.fail(`${reason}; required because CI=true or BMAAS_REQUIRE_PG=1`);
      });
    });
  } else {
    void describe(title, { skip: reason }, fn);
  }
}

let privateCluster: Promise<PgCluster> | undefined;

async function startPrivateCluster(): Promise<PgCluster> {
  const cluster = await startPgCluster();
  // after() hooks do not span files, so tie the cluster's life to this process.
  process.once('beforeExit', () => {
    void cluster.stop().catch(() => undefined);
  });
  process.once('exit', () => cluster.stopSync());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cluster.stopSync();
      // Re-raise for the default exit unless someone else is handling the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
  return cluster;
}

async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function adminUrl(signal: AbortSignal | undefined): Promise<string> {
  const shared = process.env[ADMIN_URL_ENV];
  if (shared) return shared;
  const reported = process.env[UNAVAILABLE_ENV];
  if (reported) throw new TestDatabaseError(reported);
  // Shared by every caller in this process, so one caller's abort must not stop it.
  privateCluster ??= startPrivateCluster();
  return (await abortable(privateCluster, signal)).adminUrl;
}

async function withAdminClient(
  url: string,
  signal: AbortSignal | undefined,
  what: string,
  fn: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  signal?.throwIfAborted();
  const client = new pg.Client({ connectionString: url });
  // A dead connection also rejects the pending query; this only keeps it from crashing the process.
  client.on('error', () => undefined);
  let ended: Promise<void> | undefined;
  const end = (): Promise<void> => (ended ??= client.end().catch(() => undefined));
  const onAbort = (): void => void end();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    await fn(client);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new TestDatabaseError(`${what} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

let created = 0;

/**
 * Creates an empty, uniquely named database (UTF8, C collation, from template0).
 * Aborting `signal` closes the admin connection and rejects with the abort reason.
 */
export async function createTestDatabase(opts: { signal?: AbortSignal } = {}): Promise<TestDatabase> {
  const { signal } = opts;
  const admin = await adminUrl(signal);
  const name = `bmaas_test_${process.pid}_${++created}_${randomBytes(3).toString('hex')}`;
  await withAdminClient(admin, signal, `CREATE DATABASE ${name}`, (client) =>
    client.query(
      `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`,
    ),
  );
  const url = new URL(admin);
  url.pathname = `/${name}`;

  let dropped: Promise<void> | undefined;
  const drop = (dropOpts: { signal?: AbortSignal } = {}): Promise<void> => {
    dropped ??= withAdminClient(admin, dropOpts.signal, `DROP DATABASE ${name}`, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
    ).catch((err: unknown) => {
      dropped = undefined; // let a later call retry
      throw err;
    });
    return dropped;
  };
  return { url: url.toString(), drop, [Symbol.asyncDispose]: () => drop() };
}
