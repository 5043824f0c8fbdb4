import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { describeBmdb, provideMachines, startHangableSession } from '../../test/bmdb.ts';
import { SessionExpiredError } from './errors.ts';

describeBmdb('sessions', ({ open }) => {
  it('records component name and runtime info (host, pid, version)', async () => {
    const bmdb = await open();
    const s = await bmdb.startSession({ component: 'shepherd-initializer', processor: 'unittest' });
    const row = await bmdb.queries.getSession({ sessionId: s.sessionId });
    assert.ok(row);
    assert.equal(row.componentName, 'shepherd-initializer');
    assert.match(row.runtimeInfo, new RegExp(`host=\\S+ pid=${process.pid} version=\\S+`));
    assert.equal(row.live, true);
    await s.close();
  });

  it('expires for good once the deadline passes without a poke', async () => {
    const bmdb = await open();
    const { session: s, hang } = await startHangableSession(bmdb, { component: 't', processor: 'unittest', intervalMs: 1000 });
    await s.transact(async () => {});
    hang();
    await delay(1300);
    await assert.rejects(s.transact(async () => {}), SessionExpiredError);
    assert.equal(s.expired, true);
    // Later calls fail at once, without reaching the database.
    await assert.rejects(s.transact(async () => {}), SessionExpiredError);
    await assert.rejects(s.work('UnitTest1', async () => undefined), SessionExpiredError);
    await s.close();
  });

  it('a transaction of a session past its deadline writes nothing, though its first statement travels with the liveness check', async () => {
    const bmdb = await open();
    const { session: s, hang } = await startHangableSession(bmdb, { component: 't', processor: 'unittest' });
    hang();
    await bmdb.driver.query(`UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_id = $1`, [s.sessionId]);
    let after = false;
    await assert.rejects(
      s.transact(async (q) => {
        await q.newMachine();
        after = true;
      }),
      SessionExpiredError,
    );
    assert.equal(after, false, 'the function gets no result once the check failed');
    assert.equal((await bmdb.driver.query('SELECT * FROM machines')).rowCount, 0);
    await s.close();
  });

  it('stays alive across several intervals while the heartbeat runs', async () => {
    const bmdb = await open();
    const s = await bmdb.startSession({ component: 't', processor: 'unittest', intervalMs: 1000 });
    await delay(2500);
    await s.transact(async () => {});
    assert.equal(s.expired, false);
    await s.close();
  });

  it('close() deletes the session row, releasing its work, and stops the heartbeat', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    await a.work('UnitTest1', async () => ({ machineId: m! }));
    await a.close();
    assert.equal(a.expired, true);
    assert.equal(await bmdb.queries.getSession({ sessionId: a.sessionId }), null);
    const work = await bmdb.driver.query('SELECT count(*)::int AS n FROM work');
    assert.equal(work.rows[0]!.n, 0);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => h.event), ['Started', 'Canceled']);
  });

  it('collects sessions dead for longer than the grace period, with their work', async () => {
    const bmdb = await open({ sessionGraceMs: 500 });
    const [m] = await provideMachines(bmdb, 1);
    const { session: dead, hang } = await startHangableSession(bmdb, { component: 'crashed', processor: 'unittest', intervalMs: 1000 });
    await dead.work('UnitTest1', async () => ({ machineId: m! }));
    hang();
    // Not before its deadline plus grace.
    assert.equal(await bmdb.collectExpiredSessions('unittest'), 0);
    await delay(1700);
    assert.equal(await bmdb.collectExpiredSessions('unittest'), 1);
    assert.equal(await bmdb.queries.getSession({ sessionId: dead.sessionId }), null);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => [h.event, h.failedCause]), [['Started', null], ['Canceled', 'session expired and was collected']]);
  });
});
