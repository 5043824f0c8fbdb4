// Least-privilege database roles, one per component (docs/deploying.md#roles).
// ROLE_GRANTS is the one list of what each component may do to which table;
// rolesSql turns it into SQL for one database, skipping tables that a later
// migration has not created yet (run it again after every `migrate up`).
import type { Driver, Queryable, QueryOptions } from './driver.ts';
import { BmdbConfigError } from './errors.ts';

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** A component that gets a role of its own. */
export type RoleComponent = 'migrator' | 'shepherd' | 'server' | 'webug' | 'webug_actions' | 'scruffy';

export interface RoleSpec {
  readonly component: RoleComponent;
  readonly description: string;
  /** SELECT on every table of the schema, including tables created later by the migrator. */
  readonly readsEverything: boolean;
  /** Privileges per table, on top of readsEverything. */
  readonly tables: Readonly<Record<string, readonly TablePrivilege[]>>;
}

const ALL: readonly TablePrivilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
const READ: readonly TablePrivilege[] = ['SELECT'];
// Upserts (INSERT ... ON CONFLICT DO UPDATE) need UPDATE as well.
const UPSERT: readonly TablePrivilege[] = ['SELECT', 'INSERT', 'UPDATE'];
const APPEND: readonly TablePrivilege[] = ['SELECT', 'INSERT'];

/**
 * What holding a session takes: keep-alive and close of its own row, and the
 * collection of dead sessions, which cancels their work with a history row.
 */
const SESSION_TABLES: Readonly<Record<string, readonly TablePrivilege[]>> = {
  sessions: ALL,
  work: ['SELECT', 'DELETE'],
  work_history: APPEND,
};

export const ROLE_GRANTS: readonly RoleSpec[] = [
  {
    component: 'migrator',
    description: 'owns the schema: runs `bmaas migrate` (DDL) and nothing else',
    readsEverything: true,
    tables: {},
  },
  {
    component: 'shepherd',
    description: 'provisioner, initializer and recoverer: machines, tags, work and backoffs',
    readsEverything: true,
    tables: {
      ...SESSION_TABLES,
      work: ALL,
      work_backoff: ALL,
      machines: APPEND,
      machine_provided: UPSERT,
      machine_agent_started: ALL,
      machine_agent_heartbeat: ['SELECT', 'DELETE'],
      machine_ssh_host_key: ALL,
      // from migrations 0005 and 0006 (recovery guards, work schedule)
      machine_quarantined: ALL,
      machine_attempts: ALL,
      quarantine_history: APPEND,
      recovery_reboots: ALL,
      recovery_storm_guard: UPSERT,
      machine_work_due: ALL,
    },
  },
  {
    component: 'server',
    description: 'agent callback server: heartbeats, hardware and installation reports, its session',
    readsEverything: false,
    tables: {
      ...SESSION_TABLES,
      bmdb_migrations: READ,
      machines: READ,
      machine_agent_started: READ,
      machine_agent_heartbeat: UPSERT,
      machine_hardware_report: UPSERT,
      machine_os_installation_request: READ,
      machine_os_installation_report: UPSERT,
      machine_os_installation_progress: UPSERT,
      machine_work_due: ALL,
    },
  },
  {
    component: 'webug',
    description: 'operator UI, read-only',
    readsEverything: true,
    tables: {},
  },
  {
    component: 'webug_actions',
    description: 'operator UI with actions enabled: reads, plus the action and audit tables',
    readsEverything: true,
    tables: {
      // decommission deletes the machine; UPDATE only because every action
      // locks the machine row first (SELECT … FOR UPDATE needs it).
      machines: ['SELECT', 'UPDATE', 'DELETE'],
      // recover ages the heartbeat; reinit drops it and AgentStarted.
      machine_agent_heartbeat: ALL,
      machine_agent_started: ['SELECT', 'DELETE'],
      // Clearing a backoff or dropping AgentStarted moves the machine's work schedule hint.
      machine_work_due: ALL,
      audit_log: APPEND,
      work_backoff: ['SELECT', 'DELETE'],
      machine_ssh_host_key: ['SELECT', 'DELETE'],
      machine_quarantined: ALL,
      // release clears the attempt counters.
      machine_attempts: ['SELECT', 'DELETE'],
      quarantine_history: APPEND,
      machine_os_installation_request: ALL,
    },
  },
  {
    component: 'scruffy',
    description: 'stats exporter, read-only',
    readsEverything: true,
    tables: {},
  },
];

/** What rolesSql needs to know about the database it writes SQL for. */
export interface RoleTarget {
  readonly database: string;
  readonly schema: string;
  /** Tables and sequences of the schema; grants on others are skipped. */
  readonly tables: ReadonlySet<string>;
  readonly sequences: ReadonlySet<string>;
  /** User-defined types (enums) of the schema, handed to the migrator. */
  readonly types: ReadonlySet<string>;
  /** Roles that exist already (they are altered, not created). */
  readonly roles: ReadonlySet<string>;
}

export interface RolesScript {
  readonly statements: readonly string[];
  /** `role: table` grants left out because the table does not exist yet. */
  readonly skipped: readonly string[];
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Role name of a component: the prefix, then the component. */
export function roleName(prefix: string, component: RoleComponent): string {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new BmdbConfigError(`role prefix must be lower-case letters, digits and _, got ${JSON.stringify(prefix)}`);
  return `${prefix}${component}`;
}

/**
 * The SQL that creates (or updates) every role and sets its grants to exactly
 * ROLE_GRANTS. Idempotent: it first revokes what the roles had in the schema.
 * Run by a superuser or the objects' current owner, in one transaction.
 */
export function rolesSql(target: RoleTarget, opts: { prefix: string }): RolesScript {
  const schema = ident(target.schema);
  const statements: string[] = [];
  const skipped: string[] = [];
  const migrator = ident(roleName(opts.prefix, 'migrator'));
  for (const spec of ROLE_GRANTS) {
    const name = roleName(opts.prefix, spec.component);
    statements.push(target.roles.has(name) ? `ALTER ROLE ${ident(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE` : `CREATE ROLE ${ident(name)} LOGIN`);
  }
  // Only the migrator may create objects; PostgreSQL before 15 let everyone.
  statements.push(`REVOKE CREATE ON SCHEMA ${schema} FROM PUBLIC`);
  statements.push(`GRANT CREATE, USAGE ON SCHEMA ${schema} TO ${migrator}`);
  for (const t of [...target.tables].sort()) statements.push(`ALTER TABLE ${schema}.${ident(t)} OWNER TO ${migrator}`);
  for (const t of [...target.types].sort()) statements.push(`ALTER TYPE ${schema}.${ident(t)} OWNER TO ${migrator}`);
  for (const spec of ROLE_GRANTS) {
    if (spec.component === 'migrator') continue;
    const role = ident(roleName(opts.prefix, spec.component));
    statements.push(`GRANT CONNECT ON DATABASE ${ident(target.database)} TO ${role}`);
    statements.push(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    statements.push(`REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`);
    statements.push(`ALTER DEFAULT PRIVILEGES FOR ROLE ${migrator} IN SCHEMA ${schema} REVOKE ALL ON TABLES FROM ${role}`);
    if (spec.readsEverything) {
      statements.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      statements.push(`ALTER DEFAULT PRIVILEGES FOR ROLE ${migrator} IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${role}`);
    }
    for (const [table, privileges] of Object.entries(spec.tables)) {
      if (!target.tables.has(table)) {
        skipped.push(`${roleName(opts.prefix, spec.component)}: ${table}`);
        continue;
      }
      statements.push(`GRANT ${privileges.join(', ')} ON ${schema}.${ident(table)} TO ${role}`);
    }
    if (target.sequences.size) statements.push(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
  }
  return { statements, skipped };
}

/** Reads the database name, schema, tables, types and existing roles for rolesSql. */
export async function inspectRoleTarget(db: Queryable, opts: { prefix: string } & QueryOptions): Promise<RoleTarget> {
  const q = async (sql: string, params: unknown[] = []): Promise<string[]> => (await db.query(sql, params, opts)).rows.map((r) => String(r.name));
  const [database] = await q('SELECT current_database() AS name');
  const [schema] = await q('SELECT current_schema() AS name');
  const relations = async (kinds: string): Promise<Set<string>> =>
    new Set(await q(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = ANY($2::"char"[])`, [schema, kinds.split('')]));
  return {
    database: database!,
    schema: schema!,
    tables: await relations('rp'),
    sequences: await relations('S'),
    types: new Set(await q(`SELECT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typtype = 'e'`, [schema])),
    roles: new Set(await q('SELECT rolname AS name FROM pg_roles WHERE starts_with(rolname, $1)', [opts.prefix])),
  };
}

/** Inspects the database and applies rolesSql in one transaction. */
export async function applyRoles(driver: Driver, opts: { prefix: string } & QueryOptions): Promise<RolesScript> {
  return driver.transaction(
    async (tx) => {
      const script = rolesSql(await inspectRoleTarget(tx, opts), opts);
      for (const sql of script.statements) await tx.query(sql, [], opts);
      return script;
    },
    { isolation: 'read committed', signal: opts.signal },
  );
}
