// End to end against a real OpenSSH sshd on loopback: the `bmaas shepherd`
// process enrols and initializes five machines with the takeover stand-in, and
// a machine whose host key changes is refused.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { openBmdb } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from '../../test/pg.ts';
import { describeSshd, startSshd, type Sshd } from '../../test/sshd.ts';
import { parseKeyLog, writeTakeoverStandIn } from '../../test/takeover-stand-in.ts';
import { Initializer, Provisioner } from './index.ts';
import { MiniProvider } from './providers/mini/index.ts';
import { loadOrCreateSshKey, Ssh2Client, type LoadedSshKey } from './ssh/index.ts';
import { spawnBmaas, waitFor } from './testing/index.ts';

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];

describeSshd('shepherd against a real sshd', () => {
  let dir: string;
  let sshd: Sshd;
  let key: LoadedSshKey;
  let standIn: string;
  let keyLog: string;
  let deviceList: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-shepherd-sshd-'));
    key = await loadOrCreateSshKey(join(dir, 'id_ed25519'));
    sshd = await startSshd({ listen: HOSTS.map((host) => ({ host })), authorizedKey: key.publicKeyOpenSsh });
    keyLog = join(dir, 'keys.log');
    standIn = await writeTakeoverStandIn({ path: join(dir, 'stand-in'), keyLogPath: keyLog });
    deviceList = join(dir, 'devices.json');
    await writeFile(deviceList, JSON.stringify(sshd.addresses.map((Addr, i) => ({ ID: `machine-${i}`, Addr, Location: 'loopback' }))));
    await mkdir(join(dir, 'target'));
  });
  after(async () => {
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describePostgres('bmaas shepherd process', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase();
    });
    after(async () => {
      await db?.drop();
    });

    it('initializes 5 machines end to end, stores the keys the stand-in printed, and exits 0 on SIGTERM leaving no work', async () => {
      const shepherd = spawnBmaas([
        'shepherd',
        '--provider', 'mini',
        '--mini-device-list', `file://${deviceList}`,
        '--bmdb-url', db.url,
        '--agent-executable-path', standIn,
        '--agent-target-path', join(dir, 'target', 'agent'),
        '--agent-endpoint', '127.0.0.1:4433',
        '--ssh-user', sshd.user,
        '--ssh-key-path', join(dir, 'id_ed25519'),
        '--agent-ssh-connect-timeout', '5s',
        '--provisioner-reconciler-rate', '200ms,1',
        '--provisioner-device-creation-rate', '10ms,5',
        '--initializer-db-query-rate', '50ms,8',
      ]);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const count = async (sql: string): Promise<number> => {
          try {
            return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
          } catch {
            return -1; // the schema may not exist yet
          }
        };
        await waitFor(
          `5 AgentStarted tags (shepherd log:\n${shepherd.stderr().slice(-3000)}\nsshd:\n${sshd.log().slice(-2000)})`,
          async () => shepherd.child.exitCode !== null || (await count('SELECT count(*) AS n FROM machine_agent_started')) === 5,
          60_000,
          100,
        );
        assert.equal(shepherd.child.exitCode, null, `shepherd exited early:\n${shepherd.stderr()}`);

        const stored = await client.query<{ machine_id: string; provider_id: string; key: string; fp: string }>(
          `SELECT p.machine_id, p.provider_id, encode(s.agent_public_key, 'hex') AS key, h.ssh_host_key_fingerprint AS fp
           FROM machine_provided p JOIN machine_agent_started s USING (machine_id) JOIN machine_ssh_host_key h USING (machine_id)
           ORDER BY p.provider_id`,
        );
        assert.deepEqual(stored.rows.map((r) => r.provider_id), HOSTS.map((_, i) => `machine-${i}`));
        const printed = parseKeyLog(await readFile(keyLog, 'utf8'));
        for (const row of stored.rows) {
          assert.deepEqual(printed.get(row.machine_id), [row.key], `the key the stand-in printed for ${row.provider_id} is the stored one`);
          assert.equal(row.fp, sshd.hostKeyFingerprint);
        }
        assert.match(shepherd.stderr(), /recoverer disabled/);

        shepherd.child.kill('SIGTERM');
        const code = await shepherd.exited;
        assert.equal(code, 0, shepherd.stderr().slice(-3000));
        assert.equal(await count('SELECT count(*) AS n FROM work'), 0);
        assert.equal(await count('SELECT count(*) AS n FROM sessions'), 0);
      } finally {
        if (shepherd.child.exitCode === null) shepherd.child.kill('SIGKILL');
        await client.end();
      }
    });
  });

  it('a machine whose host key changed is refused, with both fingerprints in the cause', async () => {
    await using bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
    const address = sshd.addresses[0]!;
    const list = join(dir, 'one.json');
    await writeFile(list, JSON.stringify([{ ID: 'solo', Addr: address }]));
    const provider = await MiniProvider.open({ deviceListUrl: list });
    {
      await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
      await new Provisioner(bmdb, provider, { creationRate: { intervalMs: 1, burst: 10 } }).reconcile(session);
    }
    const initializer = () =>
      new Initializer({
        provider,
        sshClient: new Ssh2Client(),
        sshUser: sshd.user,
        sshAuth: { privateKey: key.privateKey },
        connectTimeoutMs: 5000,
        agentExecutablePath: standIn,
        agentTargetPath: join(dir, 'target', 'solo-agent'),
        agentEndpoint: '127.0.0.1:4433',
      });
    const runUntil = async (what: string, sql: string): Promise<void> => {
      const stop = new AbortController();
      const running = new ControlLoopRunner(bmdb, initializer(), { dbQueryRate: { intervalMs: 10, burst: 5 } }).run(stop.signal);
      try {
        await waitFor(what, async () => (await bmdb.driver.query(sql, [])).rows.length > 0, 30_000);
      } finally {
        stop.abort();
        await running;
      }
    };
    const first = sshd.hostKeyFingerprint;
    await runUntil('agent started', 'SELECT 1 FROM machine_agent_started');
    await bmdb.driver.query('DELETE FROM machine_agent_started', []);
    await sshd.regenerateHostKey();
    const second = sshd.hostKeyFingerprint;
    await runUntil('a backoff', 'SELECT 1 FROM work_backoff');
    const { rows } = await bmdb.driver.query('SELECT cause FROM work_backoff', []);
    const cause = String(rows[0]!.cause);
    assert.match(cause, /host key of machine .* changed/);
    assert.ok(cause.includes(first) && cause.includes(second), cause);
    assert.equal((await bmdb.driver.query('SELECT 1 FROM machine_agent_started', [])).rows.length, 0);
  });
});
