// The derived machine state: each of the eight states from the rows that
// define it, the time it was entered, and stuck machines against limits.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { DEFAULT_STUCK_LIMITS, SHEPHERD_ACTOR, type DerivedMachineState } from './index.ts';

describeBmdb('machine state', ({ open }) => {
  it('derives each state with the moment it was entered, and lists the machines stuck in one', async () => {
    const bmdb = await open();
    const names = ['awaiting', 'starting', 'heartbeating', 'silent', 'recovering', 'backing-off', 'quarantined'] as const;
    const ids = await provideMachines(bmdb, names.length);
    const id = Object.fromEntries(names.map((n, i) => [n, ids[i]!])) as Record<(typeof names)[number], string>;
    const hourAgo = new Date(Date.now() - 3600_000);
    await bmdb.transact('unittest', async (q) => {
      for (const n of ['heartbeating', 'silent', 'recovering'] as const) await q.setAgentStarted({ machineId: id[n], startedAt: hourAgo, publicKey: new Uint8Array(32) });
      await q.setAgentHeartbeat({ machineId: id.heartbeating });
      await q.setAgentHeartbeat({ machineId: id.silent, at: hourAgo });
      await q.setAgentHeartbeat({ machineId: id.recovering, at: hourAgo });
      await q.quarantineMachine({ machineId: id.quarantined, reason: 'test', by: SHEPHERD_ACTOR });
    });
    await using session = await bmdb.startSession({ component: 'test', processor: 'unittest' });
    const starting = await session.work('ShepherdAgentStart', () => Promise.resolve({ machineId: id.starting }));
    const recovering = await session.work('ShepherdRecovery', () => Promise.resolve({ machineId: id.recovering }));
    const failing = await session.work('ShepherdAgentStart', () => Promise.resolve({ machineId: id['backing-off'] }));
    await failing.fail({ initialMs: 3600_000 }, 'ssh refused');

    const byName = async () => {
      const rows = await bmdb.queries.getDerivedStates();
      return Object.fromEntries(names.map((n) => [n, rows.find((r) => r.machineId === id[n])!]));
    };
    const states = await byName();
    const expected: Record<(typeof names)[number], DerivedMachineState> = {
      awaiting: 'awaiting-agent-start',
      starting: 'starting-agent',
      heartbeating: 'heartbeating',
      silent: 'silent',
      recovering: 'recovering',
      'backing-off': 'backing-off',
      quarantined: 'quarantined',
    };
    for (const n of names) assert.equal(states[n]!.state, expected[n], n);
    assert.equal(states.silent!.since.getTime(), hourAgo.getTime());
    assert.equal(states.heartbeating!.since.getTime(), hourAgo.getTime());
    for (const n of ['starting', 'recovering', 'backing-off', 'quarantined', 'awaiting'] as const) {
      assert.ok(Math.abs(states[n]!.since.getTime() - Date.now()) < 60_000, `${n} entered just now`);
    }

    // Stuck: silent for an hour against a 10 min limit; nothing else has a limit here.
    const limits = { ...Object.fromEntries(Object.keys(DEFAULT_STUCK_LIMITS).map((k) => [k, null])), silent: 600 } as typeof DEFAULT_STUCK_LIMITS;
    const stuck = await bmdb.queries.listStuckMachines({ limits });
    assert.deepEqual(stuck.map((s) => [s.machineId, s.state, s.limitSeconds]), [[id.silent, 'silent', 600]]);
    assert.deepEqual(await bmdb.queries.listStuckMachines(), [], 'with the default limits nobody is stuck yet');
    assert.deepEqual((await bmdb.queries.listStuckMachines({ limits, state: 'silent' })).map((s) => s.machineId), [id.silent], 'stuck in one state');
    assert.deepEqual(await bmdb.queries.listStuckMachines({ limits, state: 'recovering' }), []);
    const withStates = await bmdb.queries.getMachineStates({ machineIds: [id.silent, id.heartbeating], limits });
    assert.deepEqual(withStates.map((s) => [s.machineId, s.state, s.stuck, s.limitSeconds]).sort(), [[id.silent, 'silent', true, 600], [id.heartbeating, 'heartbeating', false, null]].sort());
    const counts = await bmdb.queries.countMachinesByState({ limits });
    assert.deepEqual(counts.silent, { machines: 1, stuck: 1 });
    assert.deepEqual(counts['starting-agent'], { machines: 1, stuck: 0 });
    assert.deepEqual(counts.paused, { machines: 0, stuck: 0 });

    // A storm guard pause turns a silent machine into a paused one.
    await bmdb.transact('unittest', (q) => q.setStormGuard({ reason: 'no-heartbeats', storm: true }));
    assert.equal((await byName()).silent!.state, 'paused');
    await starting.cancel();
    await recovering.cancel();
  });
});
