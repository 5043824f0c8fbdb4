// End to end: `bmaas shepherd --provider mini` with a device-list entry whose
// BMC is a fake Redfish BMC, on a real sshd. The takeover stand-in never
// heartbeats, so after the (short) threshold the recoverer restarts the
// machine through Redfish, and the initializer takes it over again. Nothing
// printed or stored may contain the BMC password.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, describePostgres, type TestDatabase } from '../../test/pg.ts';
import { describeSshd, startSshd, type Sshd } from '../../test/sshd.ts';
import { writeTakeoverStandIn } from '../../test/takeover-stand-in.ts';
import { FakeRedfishBmc } from '../sim/redfish-bmc.ts';
import { loadOrCreateSshKey } from './ssh/index.ts';
import { spawnBmaas, waitFor } from './testing/index.ts';

const PASSWORD = 'bmc-e2e-password-Zq7';

describeSshd('shepherd recovers through a Redfish BMC', () => {
  let dir: string;
  let sshd: Sshd;
  let bmc: FakeRedfishBmc;
  let db: TestDatabase;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-shepherd-bmc-'));
    const key = await loadOrCreateSshKey(join(dir, 'id_ed25519'));
    sshd = await startSshd({ listen: [{ host: '127.0.0.7' }], authorizedKey: key.publicKeyOpenSsh });
    bmc = await new FakeRedfishBmc({ username: 'admin', password: PASSWORD, resetDelayMs: 300, offMs: 500 }).start();
  });
  after(async () => {
    await bmc?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describePostgres('bmaas shepherd process', () => {
    before(async () => {
      db = await createTestDatabase();
    });
    after(async () => {
      await db?.drop();
    });

    it('restarts a machine that never heartbeats through Redfish, takes it over again, and never shows the password', async () => {
      const standIn = await writeTakeoverStandIn({ path: join(dir, 'stand-in'), keyLogPath: join(dir, 'keys.log') });
      await mkdir(join(dir, 'target'));
      const passwordFile = join(dir, 'node-1.pass');
      await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const deviceList = join(dir, 'devices.json');
      const bmcEntry = { Driver: 'redfish', Endpoint: bmc.endpoint, System: '1', Username: 'admin', PasswordFile: passwordFile, TLS: { Fingerprint: bmc.certificate.fingerprint } };
      await writeFile(deviceList, JSON.stringify([{ ID: 'node-1', Addr: sshd.addresses[0], Location: 'loopback', BMC: bmcEntry }]));
      const shepherd = spawnBmaas([
        'shepherd', '--provider', 'mini', '--mini-device-list', deviceList, '--bmdb-url', db.url,
        '--agent-executable-path', standIn, '--agent-target-path', join(dir, 'target', 'agent'), '--agent-endpoint', '127.0.0.1:4433',
        '--ssh-user', sshd.user, '--ssh-key-path', join(dir, 'id_ed25519'), '--agent-ssh-connect-timeout', '5s',
        '--provisioner-reconciler-rate', '200ms,1', '--provisioner-device-creation-rate', '10ms,5',
        '--initializer-db-query-rate', '50ms,8', '--recoverer-db-query-rate', '50ms,8',
        '--recoverer-first-heartbeat-timeout', '2s', '--recoverer-silence-timeout', '2s',
        '--log-level', 'debug',
      ]);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const keys = async (): Promise<string[]> => {
        const r = await client.query<{ k: string }>(`SELECT encode(agent_public_key, 'hex') AS k FROM machine_agent_started`).catch(() => ({ rows: [] as Array<{ k: string }> }));
        return r.rows.map((row) => row.k);
      };
      try {
        await waitFor(`a first AgentStarted (log:\n${shepherd.stderr().slice(-3000)})`, async () => shepherd.child.exitCode !== null || (await keys()).length === 1, 60_000, 100);
        const first = (await keys())[0];
        await waitFor(
          `a reset at the BMC and a new AgentStarted (log:\n${shepherd.stderr().slice(-4000)})`,
          async () => shepherd.child.exitCode !== null || (bmc.resets.length > 0 && (await keys()).some((k) => k !== first)),
          90_000,
          100,
        );
        assert.equal(shepherd.child.exitCode, null, shepherd.stderr().slice(-3000));
        assert.equal(bmc.resets[0]!.resetType, 'GracefulRestart');
        assert.match(shepherd.stderr(), /BMC showed the reboot/);
        const history = await client.query<{ event: string }>(`SELECT event::text FROM work_history WHERE process = 'ShepherdRecovery' ORDER BY timestamp`);
        assert.ok(history.rows.some((r) => r.event === 'Finished'), JSON.stringify(history.rows));

        // Nothing printed or stored holds the password (in clear or as Basic credentials).
        const basic = Buffer.from(`admin:${PASSWORD}`).toString('base64');
        const tables = await client.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`);
        let dump = '';
        for (const { table_name } of tables.rows) dump += JSON.stringify((await client.query(`SELECT * FROM "${table_name}"`)).rows);
        assert.ok(dump.length > 100);
        for (const [what, text] of [['stderr', shepherd.stderr()], ['stdout', shepherd.stdout()], ['BMDB', dump]] as const) {
          assert.ok(!text.includes(PASSWORD) && !text.includes(basic), `the BMC password is in the ${what}`);
        }
        shepherd.child.kill('SIGTERM');
        assert.equal(await shepherd.exited, 0, shepherd.stderr().slice(-3000));
        assert.equal(bmc.leakedSessions, 0);
      } finally {
        if (shepherd.child.exitCode === null) shepherd.child.kill('SIGKILL');
        await client.end();
      }
    });
  });
});
