// Every operator action (`bmaas machines <action>`, webug with --allow-actions)
// runs under the bmaas_webug_actions role: none may be refused for want of a
// grant (SQLSTATE 42501), and the role still cannot do what no action does.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { openBmdb, sqlState, type Bmdb } from '../src/bmdb/index.ts';
import { generateAgentKey, rawPublicKey } from '../src/agent/agent-identity.ts';
import { runAction } from '../src/actions/index.ts';
import { describePostgres } from './pg.ts';
import { createRoleDatabase, type RoleDatabase } from './role-database.ts';

const refused = (err: unknown): boolean => sqlState(err) === '42501';

/** In an order in which each applies to the machine the one before left. */
const SEQUENCE: ReadonlyArray<{ action: string; arguments?: Record<string, unknown> }> = [
  { action: 'clear-backoff' },
  { action: 'accept-host-key' },
  { action: 'install', arguments: { image: 'https://images.example/os.img', sha256: 'a'.repeat(64), device: '/dev/sda' } },
  { action: 'cancel-install' },
  { action: 'recover' },
  { action: 'reinit' },
  { action: 'quarantine' },
  { action: 'release' },
  { action: 'decommission' },
];

describePostgres('operator actions under the webug_actions role', () => {
  let db: RoleDatabase;
  let admin: Bmdb;
  let actions: Bmdb;
  before(async () => {
    db = await createRoleDatabase();
    admin = await openBmdb({ url: db.adminUrl });
    actions = await openBmdb({ url: db.url('webug_actions') });
  });
  after(async () => {
    await actions?.close();
    await admin?.close();
    await db?.drop();
  });

  it('runs every action without a missing grant, and no more', async () => {
    const machineId = await admin.transact('unittest', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'role-test' });
      await q.setAgentStarted({ machineId: m.machineId, publicKey: rawPublicKey(generateAgentKey()) });
      await q.setAgentHeartbeat({ machineId: m.machineId });
      return m.machineId;
    });
    await admin.driver.query(`INSERT INTO work_backoff (machine_id, process, until, cause) VALUES ($1, 'ShepherdAgentStart', now() + interval '1 hour', 'test')`, [machineId]);
    await admin.driver.query(`INSERT INTO machine_ssh_host_key (machine_id, ssh_host_key, ssh_host_key_fingerprint) VALUES ($1, '\\x00', 'SHA256:test')`, [machineId]);
    const done: string[] = [];
    for (const step of SEQUENCE) {
      try {
        await runAction(actions, { ...step, machineId, actor: 'role test' });
        done.push(step.action);
      } catch (err) {
        assert.ok(!refused(err), `${step.action} lacks a grant: ${(err as Error).message}`);
        throw err;
      }
    }
    assert.deepEqual(done, SEQUENCE.map((s) => s.action));
    assert.equal((await admin.driver.query('SELECT 1 FROM machines WHERE machine_id = $1', [machineId])).rowCount, 0, 'decommissioned');
    await assert.rejects(actions.driver.query('INSERT INTO machines DEFAULT VALUES'), refused);
    await assert.rejects(actions.driver.query('DELETE FROM work_history'), refused);
    await assert.rejects(actions.startSession({ component: 'webug', processor: 'webug' }), refused);
  });
});
