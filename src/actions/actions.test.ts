import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { create } from '@bufbuild/protobuf';
import type { Bmdb } from '../bmdb/index.ts';
import { ImageInstallationRequestSchema, OSInstallationRequestSchema, decodeMessage } from '../proto/index.ts';
import { ActionArgumentError, ActionRefusedError, AmbiguousMachineError, UnknownActionError, UnknownMachineError, resolveMachine, runAction } from './index.ts';

const KEY = new Uint8Array(32).fill(7);
const actor = 'alice';

async function started(bmdb: Bmdb, machineId: string, heartbeat = true): Promise<void> {
  await bmdb.transact('unittest', async (q) => {
    await q.setAgentStarted({ machineId, publicKey: KEY });
    if (heartbeat) await q.setAgentHeartbeat({ machineId });
  });
}

async function audit(bmdb: Bmdb, machineId: string) {
  return bmdb.transact('unittest', (q) => q.listAuditEntries({ machineId, limit: 10 }));
}

/** Fails one piece of work on the machine, which leaves a backoff of an hour. */
async function backoff(bmdb: Bmdb, machineId: string, process: 'ShepherdAgentStart' | 'ShepherdRecovery'): Promise<void> {
  await using s = await bmdb.startSession({ component: 'test', processor: 'unittest' });
  const w = await s.work(process, async () => ({ machineId }));
  await w.fail({ initialMs: 3_600_000 }, 'test failure');
}

describeBmdb('operator actions', ({ open }) => {
  it('recover ages the heartbeat so the machine is a recovery candidate at once, drops the recovery backoff, and is audited', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await started(bmdb, m!);
    await backoff(bmdb, m!, 'ShepherdRecovery');
    const before = await bmdb.transact('unittest', (q) => q.getRecoveryCandidates({ provider: 'None', limit: 10 }));
    assert.equal(before.length, 0);
    const out = await runAction(bmdb, { action: 'recover', machineId: m!, actor, reason: 'stuck kernel' });
    assert.match(out.result, /heartbeat aged.*ShepherdRecovery backoff dropped/);
    const after = await bmdb.transact('unittest', (q) => q.getRecoveryCandidates({ provider: 'None', limit: 10 }));
    assert.deepEqual(after.map((c) => c.machineId), [m]);
    const [entry] = await audit(bmdb, m!);
    assert.equal(entry!.id, out.auditId);
    assert.deepEqual([entry!.actor, entry!.action, entry!.reason, entry!.providerId, entry!.result], [actor, 'recover', 'stuck kernel', 'p-0', out.result]);
  });

  it('quarantine takes the machine out of every candidate query and release brings it back with its counters cleared; both audited, both refuse the wrong state', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const agentStart = () => bmdb.transact('unittest', (q) => q.getAgentStartCandidates({ provider: 'None', limit: 10 }));
    assert.equal((await agentStart()).length, 1);
    await assert.rejects(runAction(bmdb, { action: 'release', machineId: m!, actor }), /not quarantined/);
    await runAction(bmdb, { action: 'quarantine', machineId: m!, actor, reason: 'bad DIMM' });
    assert.equal((await agentStart()).length, 0);
    const q = await bmdb.transact('unittest', (tx) => tx.getQuarantine({ machineId: m! }));
    assert.deepEqual([q!.reason, q!.by], ['bad DIMM', actor]);
    await assert.rejects(runAction(bmdb, { action: 'quarantine', machineId: m!, actor }), /already quarantined/);
    await runAction(bmdb, { action: 'release', machineId: m!, actor, reason: 'DIMM replaced' });
    assert.equal((await agentStart()).length, 1);
    assert.deepEqual((await audit(bmdb, m!)).map((e) => [e.action, e.reason]).sort(), [['quarantine', 'bad DIMM'], ['release', 'DIMM replaced']]);
  });

  it('recover and reinit refuse a machine with no agent, and anything refuses an unknown machine', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await assert.rejects(runAction(bmdb, { action: 'recover', machineId: m!, actor }), ActionRefusedError);
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: m!, actor }), /no agent was started/);
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: '00000000-0000-4000-8000-000000000000', actor }), UnknownMachineError);
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: 'not-a-uuid', actor }), UnknownMachineError);
    await assert.rejects(runAction(bmdb, { action: 'reboot-everything', machineId: m!, actor }), UnknownActionError);
    await assert.rejects(runAction(bmdb, { action: 'toString', machineId: m!, actor }), UnknownActionError);
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: m!, actor: '' }), ActionArgumentError);
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: m!, actor, arguments: { force: 'yes' } }), /unknown argument "force"/);
    assert.deepEqual(await audit(bmdb, m!), []);
  });

  it('reinit drops AgentStarted and the heartbeat, so the machine is an agent start candidate again', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await started(bmdb, m!);
    const dry = await runAction(bmdb, { action: 'reinit', machineId: m!, actor, dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.auditId, undefined);
    assert.equal((await bmdb.transact('unittest', (q) => q.getAgentStartCandidates({ provider: 'None', limit: 10 }))).length, 0, 'a dry run changes nothing');
    await runAction(bmdb, { action: 'reinit', machineId: m!, actor });
    const c = await bmdb.transact('unittest', (q) => q.getAgentStartCandidates({ provider: 'None', limit: 10 }));
    assert.deepEqual(c.map((x) => x.machineId), [m]);
    const facts = await bmdb.transact('unittest', (q) => q.lockMachineFacts({ machineId: m! }));
    assert.equal(facts!.heartbeatAt, null);
    assert.deepEqual((await audit(bmdb, m!)).map((e) => e.action), ['reinit']);
  });

  it('reinit refuses while shepherd work is held', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await started(bmdb, m!);
    await using s = await bmdb.startSession({ component: 'test', processor: 'unittest' });
    const w = await s.work('ShepherdRecovery', async () => ({ machineId: m! }));
    await assert.rejects(runAction(bmdb, { action: 'reinit', machineId: m!, actor }), /ShepherdRecovery work is held/);
    await assert.rejects(runAction(bmdb, { action: 'decommission', machineId: m!, actor }), /work is held/);
    await w.cancel();
  });

  it('clear-backoff drops one process or all, and refuses when there is none', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await backoff(bmdb, m!, 'ShepherdAgentStart');
    await backoff(bmdb, m!, 'ShepherdRecovery');
    await assert.rejects(runAction(bmdb, { action: 'clear-backoff', machineId: m!, actor, arguments: { process: 'Nope' } }), /must be one of/);
    const one = await runAction(bmdb, { action: 'clear-backoff', machineId: m!, actor, arguments: { process: 'ShepherdAgentStart' } });
    assert.match(one.result, /ShepherdAgentStart/);
    assert.doesNotMatch(one.result, /ShepherdRecovery/);
    await assert.rejects(runAction(bmdb, { action: 'clear-backoff', machineId: m!, actor, arguments: { process: 'ShepherdAgentStart' } }), /no ShepherdAgentStart backoff/);
    assert.deepEqual((await bmdb.transact('unittest', (q) => q.getAgentStartCandidates({ provider: 'None', limit: 10 }))).map((x) => x.machineId), [m]);
    await runAction(bmdb, { action: 'clear-backoff', machineId: m!, actor });
    const facts = await bmdb.transact('unittest', (q) => q.lockMachineFacts({ machineId: m! }));
    assert.deepEqual(facts!.backoffs, []);
    await assert.rejects(runAction(bmdb, { action: 'clear-backoff', machineId: m!, actor }), /has no backoff/);
    const entries = await audit(bmdb, m!);
    assert.deepEqual(entries.map((e) => [e.action, e.arguments]), [['clear-backoff', {}], ['clear-backoff', { process: 'ShepherdAgentStart' }]]);
  });

  it('accept-host-key forgets the pinned key, and refuses when none is pinned', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await assert.rejects(runAction(bmdb, { action: 'accept-host-key', machineId: m!, actor }), /no SSH host key/);
    await bmdb.transact('unittest', (q) => q.recordSshHostKeyIfAbsent({ machineId: m!, key: new Uint8Array([1, 2, 3]), fingerprint: 'SHA256:old' }));
    const out = await runAction(bmdb, { action: 'accept-host-key', machineId: m!, actor, reason: 'motherboard swap' });
    assert.match(out.result, /SHA256:old forgotten/);
    assert.equal(await bmdb.transact('unittest', (q) => q.getSshHostKey({ machineId: m! })), null);
    // The next takeover pins the new key.
    const pinned = await bmdb.transact('unittest', (q) => q.recordSshHostKeyIfAbsent({ machineId: m!, key: new Uint8Array([4]), fingerprint: 'SHA256:new' }));
    assert.equal(pinned.fingerprint, 'SHA256:new');
  });

  it('install writes the next generation, refuses while one is pending, and cancel-install removes only a pending one', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await started(bmdb, m!);
    const sha256 = 'ab'.repeat(32);
    const install = { action: 'install', machineId: m!, actor, arguments: { image: 'https://example.test/os.img', sha256, device: '/dev/sda' } };
    await assert.rejects(runAction(bmdb, { ...install, arguments: { ...install.arguments, image: 'ftp://x' } }), /image must be an http\(s\) URL/);
    await assert.rejects(runAction(bmdb, { ...install, arguments: { ...install.arguments, sha256: 'abc' } }), /sha256 must be 64 hex digits/);
    await assert.rejects(runAction(bmdb, { ...install, arguments: { ...install.arguments, device: 'sda' } }), /device must be an absolute path/);
    await assert.rejects(runAction(bmdb, { ...install, arguments: { image: 'https://x/', sha256 } }), /device is required/);
    await assert.rejects(runAction(bmdb, { action: 'cancel-install', machineId: m!, actor }), /no installation request/);
    const first = await runAction(bmdb, { ...install, arguments: { ...install.arguments, postInstallCommand: 'efibootmgr -o 0001' } });
    assert.equal(first.result, `installation request of generation 1 written: image https://example.test/os.img (sha256 ${sha256}) onto /dev/sda, then "efibootmgr -o 0001"`);
    const pending = await bmdb.transact('unittest', (q) => q.getPendingInstallation({ machineId: m! }));
    assert.equal(pending!.generation, 1);
    const written = decodeMessage(OSInstallationRequestSchema, pending!.raw);
    assert.equal(written.type.case, 'image');
    assert.deepEqual(written.type.value, create(ImageInstallationRequestSchema, { url: 'https://example.test/os.img', sha256: Uint8Array.from(Buffer.from(sha256, 'hex')), targetDevice: '/dev/sda', postInstallCommand: 'efibootmgr -o 0001' }));
    await assert.rejects(runAction(bmdb, install), /generation 1 is still pending/);
    await runAction(bmdb, { action: 'cancel-install', machineId: m!, actor });
    assert.equal(await bmdb.transact('unittest', (q) => q.getPendingInstallation({ machineId: m! })), null);
    assert.match((await runAction(bmdb, install)).result, /generation 1/);
    await bmdb.transact('unittest', (q) => q.setOsInstallationReport({ machineId: m!, generation: 1, result: 'Success', raw: new Uint8Array() }));
    await assert.rejects(runAction(bmdb, { action: 'cancel-install', machineId: m!, actor }), /has its report already/);
    assert.match((await runAction(bmdb, install)).result, /generation 2/);
    assert.deepEqual((await audit(bmdb, m!)).map((e) => e.action), ['install', 'install', 'cancel-install', 'install']);
  });

  it('decommission removes the machine and its tags, keeps its work history and audit trail', async () => {
    const bmdb = await open();
    const [m, other] = await provideMachines(bmdb, 2);
    await started(bmdb, m!);
    await backoff(bmdb, m!, 'ShepherdRecovery');
    await runAction(bmdb, { action: 'reinit', machineId: m!, actor });
    const out = await runAction(bmdb, { action: 'decommission', machineId: m!, actor, reason: 'retired' });
    assert.equal(out.providerId, 'p-0');
    await assert.rejects(runAction(bmdb, { action: 'decommission', machineId: m!, actor }), UnknownMachineError);
    const left = await bmdb.transact('unittest', async (q) => ({
      machines: (await q.db.query('SELECT machine_id FROM machines')).rows.map((r) => r.machine_id),
      provided: Number((await q.db.query('SELECT count(*) AS n FROM machine_provided WHERE machine_id = $1', [m])).rows[0]!.n),
      backoffs: Number((await q.db.query('SELECT count(*) AS n FROM work_backoff WHERE machine_id = $1', [m])).rows[0]!.n),
      history: (await q.listHistoryOf({ machineId: m! })).map((h) => h.event),
    }));
    assert.deepEqual(left, { machines: [other], provided: 0, backoffs: 0, history: ['Started', 'Failed'] });
    assert.deepEqual((await audit(bmdb, m!)).map((e) => [e.action, e.reason]), [['decommission', 'retired'], ['reinit', null]]);
  });

  it('resolves a machine by id, id prefix or provider id, and refuses an ambiguous prefix', async () => {
    const bmdb = await open();
    const ids = await provideMachines(bmdb, 3, { prefix: 'rack1' });
    assert.equal((await resolveMachine(bmdb, ids[1]!)).machineId, ids[1]);
    assert.equal((await resolveMachine(bmdb, ids[2]!.toUpperCase())).machineId, ids[2]);
    assert.equal((await resolveMachine(bmdb, 'rack1-0')).machineId, ids[0]);
    assert.equal((await resolveMachine(bmdb, ids[0]!.slice(0, 13))).machineId, ids[0]);
    await assert.rejects(resolveMachine(bmdb, 'rack1-9'), UnknownMachineError);
    await assert.rejects(resolveMachine(bmdb, ''), UnknownMachineError);
    // Random ids: when two share a first digit, that digit alone is ambiguous.
    const shared = ids.map((i) => i[0]).find((c, _, all) => all.filter((x) => x === c).length > 1);
    if (shared) await assert.rejects(resolveMachine(bmdb, shared), AmbiguousMachineError);
  });
});
