// Quarantine and attempt counters: a quarantined machine is nobody's
// candidate, releasing it clears the tag and its counters, and a recovery
// count starts again once a heartbeat came after the last attempt.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { SHEPHERD_ACTOR } from './index.ts';

describeBmdb('quarantine', ({ open }) => {
  it('takes a machine out of every shepherd predicate until it is released, which clears its counters; both are in the history', async () => {
    const bmdb = await open();
    const [fresh, started] = await provideMachines(bmdb, 2);
    await bmdb.transact('unittest', async (q) => {
      await q.setAgentStarted({ machineId: started!, startedAt: new Date(Date.now() - 10 * 3600_000), publicKey: new Uint8Array(32) });
      for (const machineId of [fresh!, started!]) {
        await q.recordAttempt({ machineId, process: 'ShepherdAgentStart', cause: 'ssh refused' });
        assert.equal(await q.quarantineMachine({ machineId, reason: 'test', by: SHEPHERD_ACTOR }), true);
        assert.equal(await q.quarantineMachine({ machineId, reason: 'again', by: 'alice' }), false);
      }
    });
    const q = bmdb.queries;
    assert.deepEqual(await q.getAgentStartCandidates({ provider: 'None', limit: 10 }), []);
    assert.deepEqual(await q.getRecoveryCandidates({ provider: 'None', limit: 10 }), []);
    assert.equal(await q.countMachinesQuarantined(), 2);
    assert.equal((await q.getQuarantine({ machineId: fresh! }))?.by, SHEPHERD_ACTOR);

    assert.equal(await bmdb.transact('unittest', (tx) => tx.releaseMachine({ machineId: fresh!, by: 'alice' })), true);
    assert.equal(await bmdb.transact('unittest', (tx) => tx.releaseMachine({ machineId: fresh!, by: 'alice' })), false);
    assert.deepEqual((await q.getAgentStartCandidates({ provider: 'None', limit: 10 })).map((m) => m.machineId), [fresh]);
    assert.equal(await q.getAttempts({ machineId: fresh!, process: 'ShepherdAgentStart' }), undefined);
    assert.equal((await q.getAttempts({ machineId: started!, process: 'ShepherdAgentStart' }))?.attempts, 1);
    const history = await bmdb.driver.query('SELECT quarantine_event, quarantine_by FROM quarantine_history WHERE machine_id = $1 ORDER BY timestamp', [fresh]);
    assert.deepEqual(history.rows.map((r) => `${r.quarantine_event as string} by ${r.quarantine_by as string}`), ['Quarantined by shepherd', 'Released by alice']);
  });

  it('counts recovery attempts until a heartbeat comes after the last one, and keeps the newest causes first', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const machineId = m!;
    const record = (cause: string) => bmdb.transact('unittest', (q) => q.recordAttempt({ machineId, process: 'ShepherdRecovery', cause }));
    assert.equal((await record('first')).attempts, 1);
    const second = await record('second');
    assert.equal(second.attempts, 2);
    assert.equal(second.lastCauses, 'second | first');
    await bmdb.transact('unittest', (q) => q.setAgentHeartbeat({ machineId, at: new Date(Date.now() + 1000) }));
    assert.equal((await bmdb.queries.getAttempts({ machineId, process: 'ShepherdRecovery' }))?.attempts, 0);
    const third = await record('third');
    assert.equal(third.attempts, 1);
    assert.equal(third.lastCauses, 'third');
  });
});
