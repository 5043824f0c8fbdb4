// Each component's role on real PostgreSQL: the operations the component does
// succeed under it, and writes outside its grants are refused (42501).
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describePostgres } from '../../test/pg.ts';
import { createRoleDatabase, type RoleDatabase } from '../../test/role-database.ts';
import { openBmdb, type Bmdb } from './connection.ts';
import { ROLE_GRANTS, rolesSql, type RoleComponent } from './roles.ts';
import { sqlState } from './errors.ts';

const refused = (err: unknown): boolean => sqlState(err) === '42501';

it('rolesSql skips grants on tables that do not exist yet and names them', () => {
  const script = rolesSql(
    { database: 'bmaas', schema: 'public', tables: new Set(['machines', 'sessions', 'work', 'work_history']), sequences: new Set(), types: new Set(['process']), roles: new Set(['x_webug']) },
    { prefix: 'x_' },
  );
  assert.ok(script.statements.includes('ALTER ROLE "x_webug" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'));
  assert.ok(script.statements.includes('CREATE ROLE "x_server" LOGIN'));
  assert.ok(script.statements.includes('ALTER TYPE "public"."process" OWNER TO "x_migrator"'));
  assert.ok(script.skipped.includes('x_webug_actions: audit_log'));
  assert.ok(!script.statements.some((s) => s.includes('"audit_log"')));
  assert.throws(() => rolesSql({ database: 'd', schema: 'public', tables: new Set(), sequences: new Set(), types: new Set(), roles: new Set() }, { prefix: 'Bad-' }));
});

describePostgres('least-privilege roles', () => {
  let db: RoleDatabase;
  const opened: Bmdb[] = [];
  const as = async (c: RoleComponent): Promise<Bmdb> => {
    // migrate: true as the components do: a migrated schema needs no DDL right.
    const bmdb = await openBmdb({ url: db.url(c), migrate: c !== 'webug' && c !== 'scruffy' });
    opened.push(bmdb);
    return bmdb;
  };
  before(async () => {
    db = await createRoleDatabase();
  });
  after(async () => {
    for (const b of opened) await b.close().catch(() => undefined);
    await db?.drop();
  });

  it('lets the shepherd enrol, claim, take over, fail with a backoff and recover, and forbids DDL', async () => {
    const bmdb = await as('shepherd');
    const machineId = await bmdb.transact('shepherd-provisioner', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'role-0' });
      return m.machineId;
    });
    const session = await bmdb.startSession({ component: 'shepherd-initializer', processor: 'shepherd-initializer' });
    const work = await session.work('ShepherdAgentStart', async (q) => {
      const [c] = await q.getAgentStartCandidates({ provider: 'None', limit: 1 });
      return c ? { machineId: c.machineId } : undefined;
    });
    assert.equal(work.machineId, machineId);
    await work.finish(async (q) => {
      await q.recordSshHostKeyIfAbsent({ machineId, key: new Uint8Array(32), fingerprint: 'SHA256:x' });
      await q.setAgentStarted({ machineId, publicKey: new Uint8Array(32).fill(1) });
    });
    const recovery = await session.work('ShepherdRecovery', async () => ({ machineId }));
    await recovery.fail({ initialMs: 1000 }, 'reboot failed');
    const again = await session.work('ShepherdRecovery', async () => ({ machineId }));
    assert.ok(again.previousBackoff, 'the failure stored a backoff');
    await again.finish(async (q) => {
      await q.deleteAgentStarted({ machineId });
      await q.deleteAgentHeartbeat({ machineId });
    });
    await bmdb.collectExpiredSessions('shepherd-recoverer');
    await session.close();
    await assert.rejects(bmdb.driver.query('CREATE TABLE shepherd_was_here (x int)'), refused);
    await assert.rejects(bmdb.driver.query('DROP TABLE machines'), refused);
  });

  it('lets the server heartbeat and store reports, and forbids deleting machines or writing AgentStarted', async () => {
    const shepherd = await as('shepherd');
    const machineId = await shepherd.transact('shepherd-provisioner', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'role-1' });
      await q.setAgentStarted({ machineId: m.machineId, publicKey: new Uint8Array(32).fill(2) });
      return m.machineId;
    });
    const server = await as('server');
    const session = await server.startSession({ component: 'bmsrv', processor: 'bmsrv' });
    await session.transact(async (q) => {
      await q.setAgentHeartbeat({ machineId });
      await q.setAgentHeartbeat({ machineId });
      await q.setHardwareReport({ machineId, raw: new Uint8Array([1, 2]) });
      await q.setOsInstallationReport({ machineId, generation: 1, result: 'Success', raw: new Uint8Array() });
    });
    await server.collectExpiredSessions('bmsrv');
    await session.close();
    await assert.rejects(server.driver.query('DELETE FROM machines WHERE machine_id = $1', [machineId]), refused);
    await assert.rejects(server.driver.query('INSERT INTO machines DEFAULT VALUES'), refused);
    await assert.rejects(server.driver.query('DELETE FROM machine_agent_started'), refused);
    await assert.rejects(server.driver.query('DELETE FROM work_backoff'), refused);
  });

  it('keeps webug and scruffy read-only', async () => {
    for (const c of ['webug', 'scruffy'] as const) {
      const bmdb = await as(c);
      const r = await bmdb.driver.query('SELECT count(*)::int AS n FROM machines');
      assert.equal(typeof r.rows[0]!.n, 'number');
      assert.ok((await bmdb.migrationStatus()).current >= 1);
      await assert.rejects(bmdb.driver.query('INSERT INTO machines DEFAULT VALUES'), refused, c);
      await assert.rejects(bmdb.driver.query('UPDATE machine_provided SET provider_status = NULL'), refused, c);
      await assert.rejects(bmdb.startSession({ component: c, processor: 'webug' }), refused, c);
    }
  });

  it('gives every component in ROLE_GRANTS a role that can log in', async () => {
    for (const spec of ROLE_GRANTS) {
      const bmdb = await openBmdb({ url: db.url(spec.component) });
      opened.push(bmdb);
      const r = await bmdb.driver.query('SELECT current_user AS u');
      assert.equal(r.rows[0]!.u, `${db.prefix}${spec.component}`);
    }
  });
});
