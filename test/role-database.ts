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

export async function createRoleDatabase(opts: { signal?: AbortSignal } = {}): Promise<RoleDatabase> {
  const db: TestDatabase = await createTestDatabase(opts);
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
