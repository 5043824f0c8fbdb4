// listMachineStates: the per-machine view `bmaas dev` summarises.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';

describeBmdb('machine states of one provider', ({ open }) => {
  it('reports tags, heartbeat freshness, backoffs (active or not), held work and recoveries of that provider only', async () => {
    const bmdb = await open();
    const [a, b, c] = await provideMachines(bmdb, 3, { provider: 'Sim', prefix: 'sim' });
    await provideMachines(bmdb, 2, { provider: 'None', prefix: 'other' });
    const q = bmdb.queries;
    await q.setAgentStarted({ machineId: a!, publicKey: new Uint8Array(32) });
    await q.db.query('INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, now())', [a]);
    await q.setAgentStarted({ machineId: b!, publicKey: new Uint8Array(32) });
    await q.db.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, now() - interval '1 hour')`, [b]);
    await q.db.query(`INSERT INTO work_history (machine_id, process, event) VALUES ($1, 'ShepherdRecovery', 'Finished'), ($1, 'ShepherdRecovery', 'Finished'), ($1, 'ShepherdRecovery', 'Started')`, [b]);
    await q.db.query(`INSERT INTO work_backoff (machine_id, process, until, cause) VALUES ($1, 'ShepherdAgentStart', now() + interval '1 hour', 'ssh refused'), ($1, 'ShepherdRecovery', now() - interval '1 hour', 'old')`, [c]);
    const session = await bmdb.startSession({ component: 'test', processor: 'unittest' });
    const work = await session.work('ShepherdAgentStart', () => Promise.resolve({ machineId: a! }));

    const states = await q.listMachineStates({ provider: 'Sim', thresholds: { noHeartbeatAfterStartSeconds: 60, silenceSeconds: 60 } });
    assert.deepEqual(states.map((s) => s.providerId), ['sim-0', 'sim-1', 'sim-2']);
    const [sa, sb, sc] = states;
    assert.deepEqual([sa!.agentStarted, sa!.heartbeating, sa!.activeWork, sa!.recoveries], [true, true, ['ShepherdAgentStart'], 0]);
    assert.ok(sa!.lastHeartbeatAt instanceof Date);
    assert.deepEqual([sb!.agentStarted, sb!.heartbeating, sb!.recoveries], [true, false, 2]);
    assert.deepEqual([sc!.agentStarted, sc!.lastHeartbeatAt, sc!.activeWork], [false, null, []]);
    assert.deepEqual(
      sc!.backoffs.map((x) => [x.process, x.cause, x.active]).sort(),
      [['ShepherdAgentStart', 'ssh refused', true], ['ShepherdRecovery', 'old', false]],
    );
    await work.cancel();
    await session.close();
  });
});
