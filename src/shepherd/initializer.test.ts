import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { Bmdb } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { encodeTakeoverResponse } from '../proto/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { hostKeyFingerprint } from './ssh/index.ts';
import { Initializer, INITIALIZER_BACKOFF, Provisioner, type InitializerOptions } from './index.ts';
import { FakeProvider, FakeSshClient, waitFor } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };

async function enrol(bmdb: Bmdb, provider: FakeProvider, count: number): Promise<void> {
  provider.addMachines(count);
  const provisioner = new Provisioner(bmdb, provider, { maxCount: 0, creationRate: FAST });
  await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
  await provisioner.reconcile(session);
}

function initializer(provider: FakeProvider, ssh: FakeSshClient, extra: Partial<InitializerOptions> = {}): Initializer {
  return new Initializer({
    provider,
    sshClient: ssh,
    sshUser: 'root',
    sshAuth: { password: 'secret' },
    agentExecutablePath: '/opt/bmaas/agent',
    agentEndpoint: 'bmsrv.example:443',
    ...extra,
  });
}

/** Runs the initializer until `until` holds, then stops it. */
async function runUntil(bmdb: Bmdb, loop: Initializer, what: string, until: () => Promise<boolean>, parallelism = 1): Promise<void> {
  const stop = new AbortController();
  const running = new ControlLoopRunner(bmdb, loop, { dbQueryRate: FAST, parallelism }).run(stop.signal);
  try {
    await waitFor(what, until, 20_000);
  } finally {
    stop.abort();
    await running;
  }
}

async function rows(bmdb: Bmdb, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await bmdb.driver.query(sql, [])).rows;
}

describeBmdb('initializer', ({ open }) => {
  it('smoke: 10 machines get their agent started and the keys the agents printed are stored', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await enrol(bmdb, provider, 10);
    const ssh = new FakeSshClient();
    await runUntil(bmdb, initializer(provider, ssh), '10 AgentStarted tags', async () => (await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length === 10, 3);
    const started = await rows(bmdb, 'SELECT machine_id, agent_public_key FROM machine_agent_started');
    assert.equal(started.length, 10);
    for (const row of started) {
      const printed = ssh.keys.get(row.machine_id as string);
      assert.ok(printed, `a key was printed for ${String(row.machine_id)}`);
      assert.deepEqual(Buffer.from(row.agent_public_key as Uint8Array), Buffer.from(printed));
    }
    assert.equal(ssh.uploads.length, 10);
    assert.ok(ssh.uploads.every((u) => u.localPath === '/opt/bmaas/agent' && u.remotePath === '/root/agent'));
    assert.equal((await rows(bmdb, 'SELECT 1 FROM work')).length, 0);
    // Trust on first use recorded every machine's host key.
    const keys = await rows(bmdb, 'SELECT ssh_host_key_fingerprint FROM machine_ssh_host_key');
    assert.equal(keys.length, 10);
    assert.ok(keys.every((k) => k.ssh_host_key_fingerprint === hostKeyFingerprint(ssh.hostKey)));
  });

  it('a failing takeover backs the machine off with the initializer default and the cause', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await enrol(bmdb, provider, 1);
    const ssh = new FakeSshClient();
    ssh.behaviour = () => ({ stdout: encodeTakeoverResponse({ result: { case: 'error', value: { message: 'no disk found' } } }), exitCode: 1 });
    await runUntil(bmdb, initializer(provider, ssh), 'a backoff', async () => (await rows(bmdb, 'SELECT 1 FROM work_backoff')).length === 1);
    const [backoff] = await rows(bmdb, `SELECT process, cause, last_interval_seconds, until > now() + interval '299 seconds' AS later FROM work_backoff`);
    assert.equal(backoff!.process, 'ShepherdAgentStart');
    assert.equal(Number(backoff!.last_interval_seconds), INITIALIZER_BACKOFF.initialMs / 1000);
    assert.equal(backoff!.later, true);
    assert.match(String(backoff!.cause), /agent reported a takeover error: no disk found/);
    assert.equal((await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length, 0);
    const history = await rows(bmdb, "SELECT failed_cause FROM work_history WHERE event = 'Failed'");
    assert.equal(history.length, 1);
  });

  it('a wrong echo, a short key and an unknown provider machine each fail the work', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await enrol(bmdb, provider, 3);
    const ids = [...provider.machines.values()];
    const ssh = new FakeSshClient();
    ssh.byAddress.set(ids[0]!.address, (init) => ({
      stdout: encodeTakeoverResponse({ result: { case: 'success', value: { initMessage: { ...init, machineId: 'someone-else' }, key: randomBytes(32) } } }),
    }));
    ssh.byAddress.set(ids[1]!.address, (init) => ({
      stdout: encodeTakeoverResponse({ result: { case: 'success', value: { initMessage: init, key: randomBytes(31) } } }),
    }));
    provider.machines.delete(ids[2]!.id);
    await runUntil(bmdb, initializer(provider, ssh), 'three backoffs', async () => (await rows(bmdb, 'SELECT 1 FROM work_backoff')).length === 3);
    const causes = (await rows(bmdb, 'SELECT cause FROM work_backoff ORDER BY cause')).map((r) => String(r.cause));
    assert.ok(causes.some((c) => c.includes('echoed a different TakeoverInit')), causes.join('\n'));
    assert.ok(causes.some((c) => c.includes('must be 32 bytes')), causes.join('\n'));
    assert.ok(causes.some((c) => c.includes('has no machine')), causes.join('\n'));
  });

  it('a changed host key fails the work with both fingerprints in the cause', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await enrol(bmdb, provider, 1);
    const ssh = new FakeSshClient();
    const first = hostKeyFingerprint(ssh.hostKey);
    await runUntil(bmdb, initializer(provider, ssh), 'agent started', async () => (await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length === 1);
    // The machine is reinstalled (new host key) and must be initialized again.
    await bmdb.driver.query('DELETE FROM machine_agent_started', []);
    ssh.hostKey = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
    const second = hostKeyFingerprint(ssh.hostKey);
    const uploadsBefore = ssh.uploads.length;
    await runUntil(bmdb, initializer(provider, ssh), 'a backoff', async () => (await rows(bmdb, 'SELECT 1 FROM work_backoff')).length === 1);
    const [row] = await rows(bmdb, 'SELECT cause FROM work_backoff');
    const cause = String(row!.cause);
    assert.match(cause, /host key of machine .* changed/);
    assert.ok(cause.includes(first) && cause.includes(second), cause);
    assert.equal(ssh.uploads.length, uploadsBefore, 'nothing was uploaded to the impostor');
    const [stored] = await rows(bmdb, 'SELECT ssh_host_key_fingerprint FROM machine_ssh_host_key');
    assert.equal(stored!.ssh_host_key_fingerprint, first, 'the recorded key is kept');
  });

  it('with insecure-ignore no host key is recorded', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await enrol(bmdb, provider, 2);
    const ssh = new FakeSshClient();
    await runUntil(bmdb, initializer(provider, ssh, { hostKeyMode: 'insecure-ignore' }), 'agents started', async () => (await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length === 2);
    assert.equal((await rows(bmdb, 'SELECT 1 FROM machine_ssh_host_key')).length, 0);
  });
});
