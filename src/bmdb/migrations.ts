// Versioned schema migrations: `migrations/NNNN_name.up.sql` and `.down.sql`.
//
// Each step runs in its own transaction that first locks the single row of
// `bmdb_migration_lock`, so two processes migrating at once take turns and the
// second finds the work done. A plain row lock works on PostgreSQL and
// CockroachDB alike (no advisory locks).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Driver, Queryable } from './driver.ts';
import { sleep } from '../lib/sleep.ts';
import { MigrationError, sqlState } from './errors.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: string;
  readonly down: string;
}

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');

/** Reads and checks the migration files: numbered 1..n without gaps, each with up and down. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
  const byVersion = new Map<number, { name: string; up?: string; down?: string }>();
  for (const file of files) {
    const m = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/.exec(file);
    if (!m) throw new MigrationError(`unexpected file in ${dir}: ${file}`);
    const version = Number(m[1]);
    const entry = byVersion.get(version) ?? { name: m[2]! };
    entry[m[3] as 'up' | 'down'] = readFileSync(path.join(dir, file), 'utf8');
    byVersion.set(version, entry);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b);
  return versions.map((version, i) => {
    const e = byVersion.get(version)!;
    if (version !== i + 1) throw new MigrationError(`migration versions must be 1..n without gaps; found ${version} at position ${i + 1}`);
    if (e.up === undefined || e.down === undefined) throw new MigrationError(`migration ${version}_${e.name} needs both an up and a down file`);
    return { version, name: e.name, up: e.up, down: e.down };
  });
}

const BOOKKEEPING = [
  `CREATE TABLE IF NOT EXISTS bmdb_migrations (
     version integer PRIMARY KEY,
     name text NOT NULL,
     applied_at timestamptz NOT NULL DEFAULT now())`,
  'CREATE TABLE IF NOT EXISTS bmdb_migration_lock (id integer PRIMARY KEY, locked_at timestamptz)',
  'INSERT INTO bmdb_migration_lock (id) VALUES (1) ON CONFLICT (id) DO NOTHING',
];

async function ensureBookkeeping(driver: Driver, signal?: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      for (const sql of BOOKKEEPING) await driver.query(sql, [], { signal });
      return;
    } catch (err) {
      // Two processes creating the same table at the same instant can collide
      // in the catalog (23505, 42P07, 42710) even with IF NOT EXISTS; the
      // loser retries and then finds the table there.
      const code = sqlState(err);
      if (attempt < 5 && ['23505', '42P07', '42710', '40001'].includes(code ?? '')) {
        await sleep(10 + Math.random() * 40 * attempt, signal);
        continue;
      }
      throw err;
    }
  }
}

async function lockAndReadApplied(tx: Queryable, signal?: AbortSignal): Promise<Set<number>> {
  await tx.query('UPDATE bmdb_migration_lock SET locked_at = now() WHERE id = 1', [], { signal });
  const r = await tx.query('SELECT version FROM bmdb_migrations', [], { signal });
  return new Set(r.rows.map((row) => Number(row.version)));
}

export interface MigrationStatus {
  /** False when the bookkeeping table does not exist yet (nothing has ever migrated this database). */
  initialised: boolean;
  /** Highest applied version (0 = empty database). */
  current: number;
  /** Highest version this build knows. */
  latestKnown: number;
  applied: Array<{ version: number; name: string; appliedAt: Date }>;
  pending: Array<{ version: number; name: string }>;
}

/**
 * Reads which migrations are applied. A pure read: it writes nothing, takes no
 * lock and needs only SELECT, so it runs on a read-only role or inside a READ
 * ONLY transaction. A database nobody has migrated reports `initialised: false`
 * and version 0.
 */
export async function migrationStatus(db: Queryable, opts: { signal?: AbortSignal | undefined; migrations?: Migration[] } = {}): Promise<MigrationStatus> {
  const migrations = opts.migrations ?? loadMigrations();
  const signal = opts.signal;
  const exists = await db.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'bmdb_migrations'`,
    [],
    { signal },
  );
  const initialised = exists.rows.length > 0;
  const rows = initialised ? (await db.query('SELECT version, name, applied_at FROM bmdb_migrations ORDER BY version', [], { signal })).rows : [];
  const applied = rows.map((row) => ({ version: Number(row.version), name: row.name as string, appliedAt: row.applied_at as Date }));
  const done = new Set(applied.map((a) => a.version));
  return {
    initialised,
    current: applied.length ? applied[applied.length - 1]!.version : 0,
    latestKnown: migrations.length,
    applied,
    pending: migrations.filter((m) => !done.has(m.version)).map((m) => ({ version: m.version, name: m.name })),
  };
}

/**
 * Applies every pending migration in order, each in its own transaction.
 * A database already ahead of this build (a newer component migrated it) is
 * left alone: components keep working one schema version behind.
 * Returns the versions this call applied.
 */
export async function migrateUp(driver: Driver, opts: { signal?: AbortSignal; logger?: Logger; migrations?: Migration[] } = {}): Promise<number[]> {
  const migrations = opts.migrations ?? loadMigrations();
  // Nothing pending is answered by a pure read, so a component running under a
  // role without DDL rights (docs/deploying.md#roles) starts on a migrated schema.
  const before = await migrationStatus(driver, { signal: opts.signal, migrations });
  if (before.initialised && before.pending.length === 0) return [];
  await ensureBookkeeping(driver, opts.signal);
  const appliedNow: number[] = [];
  for (const m of migrations) {
    const applied = await driver.transaction(
      async (tx) => {
        const done = await lockAndReadApplied(tx, opts.signal);
        if (done.has(m.version)) return false;
        if (m.version > 1 && !done.has(m.version - 1)) throw new MigrationError(`cannot apply ${m.version}_${m.name}: version ${m.version - 1} is not applied`);
        await tx.exec(m.up, { signal: opts.signal });
        await tx.query('INSERT INTO bmdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name], { signal: opts.signal });
        return true;
      },
      { isolation: 'read committed', signal: opts.signal },
    ).catch((err: unknown) => {
      throw err instanceof MigrationError ? err : new MigrationError(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err });
    });
    if (applied) {
      appliedNow.push(m.version);
      opts.logger?.info({ version: m.version, name: m.name }, 'applied migration');
    }
  }
  return appliedNow;
}

/** Reverts the newest `steps` applied migrations (default 1). Returns the versions reverted. */
export async function migrateDown(
  driver: Driver,
  opts: { steps?: number; signal?: AbortSignal; logger?: Logger; migrations?: Migration[] } = {},
): Promise<number[]> {
  const migrations = opts.migrations ?? loadMigrations();
  await ensureBookkeeping(driver, opts.signal);
  const reverted: number[] = [];
  for (let i = 0; i < (opts.steps ?? 1); i++) {
    const version = await driver.transaction(
      async (tx) => {
        const done = await lockAndReadApplied(tx, opts.signal);
        if (done.size === 0) return null;
        const newest = Math.max(...done);
        const m = migrations.find((x) => x.version === newest);
        if (!m) throw new MigrationError(`the database is at version ${newest}, newer than this build knows (${migrations.length}); migrate down with the newer build`);
        await tx.exec(m.down, { signal: opts.signal });
        await tx.query('DELETE FROM bmdb_migrations WHERE version = $1', [m.version], { signal: opts.signal });
        opts.logger?.info({ version: m.version, name: m.name }, 'reverted migration');
        return m.version;
      },
      { isolation: 'read committed', signal: opts.signal },
    );
    if (version === null) break;
    reverted.push(version);
  }
  return reverted;
}
