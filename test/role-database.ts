// A test database whose components connect under their least-privilege roles
// (src/bmdb/roles.ts): roles applied, the schema migrated by the migrator role,
// the roles applied again for the new tables. Roles are cluster-wide, so each
// database gets its own role prefix; dropping the database drops its roles.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyRoles, openBmdb, ROLE_GRANTS, roleName, type RoleComponent } from '../src/bmdb/index.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';

export interface RoleDatabase {
  /** Superuser URL of the database. */
  readonly adminUrl: string;
  readonly prefix: string;
  /** URL that logs in as the component's role. */
  url(component: RoleComponent): string;
  drop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function withUser(url: string, user: string, database?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  if (database) u.pathname = `/${database}`;
  return u.toString();
}

async function applyAsAdmin(url: string, prefix: string): Promise<void> {
  const admin = await openBmdb({ url });
  try {
    await applyRoles(admin.driver, { prefix });
  } finally {
    await admin.close();
  }
}

/** A new database on the shared test cluster, or on the cluster of `clusterAdminUrl` (a dedicated one). */
async function newDatabase(opts: { signal?: AbortSignal; clusterAdminUrl?: string }): Promise<TestDatabase> {
  if (!opts.clusterAdminUrl) return createTestDatabase(opts);
  const name = `bmaas_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: opts.clusterAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const drop = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: opts.clusterAdminUrl });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };
  return { url: withUser(opts.clusterAdminUrl, 'postgres', name), drop, [Symbol.asyncDispose]: drop };
}

export async function createRoleDatabase(opts: { signal?: AbortSignal; clusterAdminUrl?: string } = {}): Promise<RoleDatabase> {
  const db: TestDatabase = await newDatabase(opts);
  const prefix = `t${randomBytes(4).toString('hex')}_`;
  const url = (c: RoleComponent): string => withUser(db.url, roleName(prefix, c));
  let dropped: Promise<void> | undefined;
  const drop = (): Promise<void> =>
    (dropped ??= (async () => {
      await db.drop();
      const client = new pg.Client({ connectionString: withUser(db.url, 'postgres', 'postgres') });
      await client.connect();
      try {
        for (const spec of ROLE_GRANTS) await client.query(`DROP ROLE IF EXISTS "${roleName(prefix, spec.component)}"`);
      } finally {
        await client.end();
      }
    })());
  try {
    await applyAsAdmin(db.url, prefix);
    const migrator = await openBmdb({ url: url('migrator'), migrate: true });
    await migrator.close();
    await applyAsAdmin(db.url, prefix);
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return { adminUrl: db.url, prefix, url, drop, [Symbol.asyncDispose]: drop };
}
