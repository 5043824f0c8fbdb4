import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Bmdb, Queries, RecoveryThresholds } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { runAction } from '../actions/index.ts';
import { Initializer, Recoverer, StormGuard } from './index.ts';
import { FakeProvider, FakeSshClient, waitFor } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };
/** What the initializer needs besides the provider and the SSH client (the fake plays every agent). */
const TAKEOVER = { sshUser: 'root', sshAuth: { password: 'secret' }, agentExecutablePath: '/opt/bmaas/agent', agentEndpoint: 'bmsrv.example:443' };

async function rows(bmdb: Bmdb, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await bmdb.driver.query(sql, [])).rows;
}

/** One provided machine of `provider`, after `setup` ran in the same transaction. */
async function oneMachine(bmdb: Bmdb, provider: FakeProvider, setup: (q: Queries, machineId: string) => Promise<void> = async () => {}): Promise<string> {
  const [pm] = provider.addMachines(1);
  return bmdb.transact('unittest', async (q) => {
    const { machineId } = await q.newMachine();
    await q.addProvided({ machineId, provider: 'None', providerId: pm!.id, providerIpAddress: pm!.address });
    await setup(q, machineId);
    return machineId;
  });
}

/**
 * Runs a recoverer and an initializer (agents played by a FakeSshClient) until
 * the returned function is called. No storm guard: these tests follow one machine.
 */
function runShepherd(bmdb: Bmdb, provider: FakeProvider, thresholds?: RecoveryThresholds): () => Promise<void> {
  const stop = new AbortController();
  const initializer = new Initializer({ provider, sshClient: new FakeSshClient(), ...TAKEOVER });
  const recoverer = new Recoverer({ provider, ...(thresholds ? { thresholds } : {}), stormGuard: new StormGuard({ options: { enabled: false } }) });
  const loops = [initializer, recoverer].map((loop) => new ControlLoopRunner(bmdb, loop, { dbQueryRate: FAST }).run(stop.signal));
  return async () => {
    stop.abort();
    await Promise.all(loops);
  };
}

describeBmdb('recoverer', ({ open }) => {
  it('smoke: an agent started 10 h ago that never heartbeated is rebooted once, its tags cleared, and it is an agent start candidate again', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const [dead, healthy] = provider.addMachines(2);
    const ids = await bmdb.transact('unittest', async (q) => {
      const out: string[] = [];
      for (const m of [dead!, healthy!]) {
        const { machineId } = await q.newMachine();
        await q.addProvided({ machineId, provider: 'None', providerId: m.id });
        out.push(machineId);
      }
      await q.setAgentStarted({ machineId: out[0]!, startedAt: new Date(Date.now() - 10 * 3600_000), publicKey: new Uint8Array(32) });
      await q.setAgentStarted({ machineId: out[1]!, publicKey: new Uint8Array(32).fill(1) });
      await q.setAgentHeartbeat({ machineId: out[1]! });
      return out;
    });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, new Recoverer({ provider }), { dbQueryRate: FAST }).run(stop.signal);
    await waitFor('a reboot', () => provider.reboots.length >= 1);
    // Give a second reboot a chance to happen wrongly before stopping.
    await new Promise((r) => setTimeout(r, 300));
    stop.abort();
    await running;
    assert.deepEqual(provider.reboots, [dead!.id]);
    assert.deepEqual((await rows(bmdb, 'SELECT machine_id FROM machine_agent_started')).map((r) => r.machine_id), [ids[1]]);
    assert.deepEqual((await rows(bmdb, 'SELECT machine_id FROM machine_agent_heartbeat')).map((r) => r.machine_id), [ids[1]]);
    const candidates = await bmdb.queries.getAgentStartCandidates({ provider: 'None', limit: 10 });
    assert.deepEqual(candidates.map((c) => c.machineId), [ids[0]]);
    assert.equal((await rows(bmdb, "SELECT 1 FROM work_history WHERE process = 'ShepherdRecovery' AND event = 'Finished'")).length, 1);
  });

  it('a failed reboot backs the machine off with the recoverer default', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await bmdb.transact('unittest', async (q) => {
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: 'None', providerId: 'vanished' });
      await q.setAgentStarted({ machineId, startedAt: new Date(Date.now() - 3600_000), publicKey: new Uint8Array(32) });
    });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, new Recoverer({ provider }), { dbQueryRate: FAST }).run(stop.signal);
    await waitFor('a backoff', async () => (await rows(bmdb, 'SELECT 1 FROM work_backoff')).length === 1);
    stop.abort();
    await running;
    const [row] = await rows(bmdb, 'SELECT process, cause, last_interval_seconds FROM work_backoff');
    assert.equal(row!.process, 'ShepherdRecovery');
    assert.equal(Number(row!.last_interval_seconds), 60);
    assert.match(String(row!.cause), /has no machine "vanished"/);
    assert.equal((await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length, 1, 'tags kept when the reboot failed');
  });

  it('a machine that heartbeated is recovered once with a graceful restart, its new agent heartbeats and is left alone, and its next recovery starts gracefully again', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const machineId = await oneMachine(bmdb, provider);
    const heartbeat = (key: Uint8Array) => bmdb.transact('unittest', (q) => q.recordHeartbeats({ claims: [{ machineId, publicKey: key }] })).then((a) => a.has(machineId));
    const agentKey = async () => (await rows(bmdb, 'SELECT agent_public_key FROM machine_agent_started')).map((r) => Buffer.from(r.agent_public_key as Uint8Array))[0];
    const recover = () => runAction(bmdb, { action: 'recover', machineId, actor: 'operator@test' });
    const stop = runShepherd(bmdb, provider);
    try {
      await waitFor('the first agent', async () => (await agentKey()) !== undefined);
      const first = (await agentKey())!;
      assert.ok(await heartbeat(first));

      // A first recovery: a graceful restart, then a new agent with a new key.
      await recover();
      await waitFor('a reboot', () => provider.reboots.length === 1);
      await waitFor('a second agent', async () => {
        const key = await agentKey();
        return key !== undefined && !key.equals(first);
      });
      const second = (await agentKey())!;
      assert.equal(await heartbeat(first), false, 'the old agent is refused once the new one holds AgentStarted');
      assert.ok(await heartbeat(second));
      // Give a wrong second reboot a chance to happen.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(provider.rebootAttempts, [0]);

      // The new agent heartbeated since that reboot: the next recovery is a first one again.
      await recover();
      await waitFor('a second reboot', () => provider.reboots.length === 2);
      assert.deepEqual(provider.rebootAttempts, [0, 0], 'both reboots are graceful restarts (attempt 0)');
    } finally {
      await stop();
    }
  });

  it('a heartbeat row the old agent left behind (one that raced the recovery finish) does not make the new agent look silent', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    // What the recovery finish can leave at READ COMMITTED: a heartbeat whose
    // statement started before the finish committed (its snapshot still held
    // the old AgentStarted row) waits for the finish's delete, then inserts
    // the row anew, with no AgentStarted left.
    await oneMachine(bmdb, provider, (q, machineId) => q.setAgentHeartbeat({ machineId }));
    const stop = runShepherd(bmdb, provider, { noHeartbeatAfterStartSeconds: 3600, silenceSeconds: 1 });
    try {
      await waitFor('the new agent', async () => (await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length === 1);
      assert.deepEqual(await rows(bmdb, 'SELECT machine_id FROM machine_agent_heartbeat'), [], 'the new agent has not heartbeated yet');
      // Past the old row's silence threshold: the new agent still has its first-heartbeat time.
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(provider.reboots, []);
    } finally {
      await stop();
    }
  });

  it('a candidate read from a view older than another session\'s claim counts no attempt and no reboot', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const machineId = await oneMachine(bmdb, provider, async (q, id) => {
      await q.setAgentStarted({ machineId: id, startedAt: new Date(Date.now() - 10 * 3600_000), publicKey: new Uint8Array(32) });
    });
    const recoverer = new Recoverer({ provider, stormGuard: new StormGuard({ options: { enabled: false } }) });
    await using winner = await bmdb.startSession({ component: 'test', processor: 'shepherd-recoverer' });
    await using loser = await bmdb.startSession({ component: 'test', processor: 'shepherd-recoverer' });
    await winner.work('ShepherdRecovery', async (q) => (await recoverer.getMachines(q, 1))[0]);
    // At READ COMMITTED the candidate query's snapshot can predate the winner's
    // claim while its row lock is taken after it: the loser then sees the
    // machine as a candidate. Played here by handing it the machine.
    const candidate = (await bmdb.queries.getProvidedMachines({ provider: 'None' }))[0]!;
    const stale = (q: Queries): Queries => new Proxy(q, { get: (t, k) => (k === 'getRecoveryCandidates' ? () => Promise.resolve([candidate]) : t[k as keyof Queries]) });
    await assert.rejects(loser.work('ShepherdRecovery', async (q) => (await recoverer.getMachines(stale(q), 1))[0]));
    assert.equal((await bmdb.queries.getAttempts({ machineId, process: 'ShepherdRecovery' }))?.attempts, 1, 'only the winner counted an attempt');
    assert.equal((await rows(bmdb, 'SELECT 1 FROM recovery_reboots')).length, 1, 'only the winner wrote a ledger row');
  });
});
