import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { describeBmdb, provideMachines, startHangableSession } from '../../test/bmdb.ts';
import { NothingToDoError, SessionExpiredError, WorkClosedError, WorkConflictError, WorkLostError } from './errors.ts';
import type { Queries } from './queries/index.ts';

// UnitTest1 candidates: provided machines without an active UnitTest1 backoff.
const unitTestCandidates = async (q: Queries) => {
  const r = await q.db.query(
    `SELECT mp.machine_id FROM machine_provided mp WHERE NOT EXISTS (
       SELECT 1 FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.process = 'UnitTest1' AND b.until > now())
     AND NOT EXISTS (SELECT 1 FROM work w WHERE w.machine_id = mp.machine_id AND w.process = 'UnitTest1')
     ORDER BY mp.machine_id LIMIT 1`,
  );
  return r.rows.length ? { machineId: r.rows[0]!.machine_id as string } : undefined;
};

describeBmdb('work', ({ open }) => {
  it('is mutually exclusive per (machine, process) across two sessions, and freed by cancel', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const b = await bmdb.startSession({ component: 'b', processor: 'unittest' });
    const wa = await a.work('UnitTest1', async () => ({ machineId: m! }));
    await assert.rejects(b.work('UnitTest1', async () => ({ machineId: m! })), WorkConflictError);
    await assert.rejects(a.work('UnitTest1', async () => ({ machineId: m! })), WorkConflictError);
    // Another process on the same machine is independent.
    const wb2 = await b.work('UnitTest2', async () => ({ machineId: m! }));
    await assert.rejects(a.work('UnitTest2', async () => ({ machineId: m! })), WorkConflictError);
    await wa.cancel();
    const wb1 = await b.work('UnitTest1', async () => ({ machineId: m! }));
    assert.equal(wb1.machineId, m);
    await wb1.cancel();
    await wb2.cancel();
    await a.close();
    await b.close();
  });

  it('reports nothing to do when retrieval finds no machine', async () => {
    const bmdb = await open();
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    await assert.rejects(s.work('UnitTest1', async () => undefined), NothingToDoError);
    await s.close();
  });

  it('await using cancels unfinished work, and a finished work cannot be ended twice', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    {
      await using w = await s.work('UnitTest1', async () => ({ machineId: m! }));
      assert.equal(w.state, 'open');
    }
    const w2 = await s.work('UnitTest1', async () => ({ machineId: m! }));
    await w2.finish();
    await assert.rejects(w2.fail(undefined, 'x'), WorkClosedError);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => h.event), ['Started', 'Canceled', 'Started', 'Finished']);
    await s.close();
  });

  it('backs off through work: {1s, x2, max 5s} stores 1, 2, 4, 5, 5, hides the machine until `until`, and a finish resets it', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 1);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const backoff = { initialMs: 1000, exponent: 2, maximumMs: 5000 };
    const stored = async () => (await bmdb.driver.query('SELECT last_interval_seconds AS s, cause FROM work_backoff')).rows[0];
    // Pretend the backoff ran out, without waiting for it.
    const expire = () => bmdb.driver.query(`UPDATE work_backoff SET until = now() - interval '1 second'`);

    let w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(w.previousBackoff, null);
    assert.equal(await w.fail(backoff, 'first'), 1);
    // Not a candidate until `until`...
    await assert.rejects(s.work('UnitTest1', unitTestCandidates), NothingToDoError);
    await delay(1100);
    // ...and a candidate again after it.
    w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(w.previousBackoff?.lastIntervalSeconds, 1);
    assert.equal(w.previousBackoff?.cause, 'first');

    const intervals: number[] = [];
    for (let i = 0; i < 4; i++) {
      intervals.push(await w.fail(backoff, `attempt ${i}`));
      assert.equal((await stored())!.s, intervals.at(-1));
      await assert.rejects(s.work('UnitTest1', unitTestCandidates), NothingToDoError);
      await expire();
      w = await s.work('UnitTest1', unitTestCandidates);
    }
    assert.deepEqual(intervals, [2, 4, 5, 5]);

    await w.finish();
    assert.equal(await stored(), undefined);
    w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(w.previousBackoff, null);
    assert.equal(await w.fail(backoff, 'again'), 1);
    await expire();
    w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(await w.fail(backoff, 'again'), 2);
    await s.close();
  });

  it('fails without a backoff by keeping the previous interval, or 1 s', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 1);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    let w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(await w.fail(undefined, 'x'), 1);
    await bmdb.driver.query(`UPDATE work_backoff SET until = now() - interval '1 second', last_interval_seconds = 60`);
    w = await s.work('UnitTest1', unitTestCandidates);
    assert.equal(await w.fail(undefined, 'x'), 60);
    await s.close();
  });

  it('finish and fail are fenced: after losing the work row nothing is written', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const w = await s.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    // Someone else (an operator, a collector) removed the lock.
    await bmdb.driver.query('DELETE FROM work');
    await assert.rejects(w.finish((q) => q.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32) })), WorkLostError);
    await assert.rejects(w.fail({ initialMs: 60_000 }, 'nope'), WorkLostError);
    assert.equal((await bmdb.driver.query('SELECT * FROM machine_agent_started')).rowCount, 0);
    assert.equal((await bmdb.driver.query('SELECT * FROM work_backoff')).rowCount, 0);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => h.event), ['Started']);
    await s.close();
  });

  it('finish and fail of a session past its deadline write nothing and expire the session', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const { session: s, hang } = await startHangableSession(bmdb, { component: 'a', processor: 'unittest' });
    const w1 = await s.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    const w2 = await s.work('ShepherdRecovery', async () => ({ machineId: m! }));
    // The session row is still there (not collected yet) but its deadline passed.
    hang();
    await bmdb.driver.query(`UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_id = $1`, [s.sessionId]);
    await bmdb.driver.query(`INSERT INTO work_backoff (machine_id, process, until, cause) VALUES ($1, 'ShepherdAgentStart', now() - interval '1 minute', 'earlier')`, [m]);
    await assert.rejects(w1.finish((q) => q.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32) })), SessionExpiredError);
    assert.equal(s.expired, true);
    await assert.rejects(w2.fail({ initialMs: 60_000 }, 'nope'), SessionExpiredError);
    assert.equal((await bmdb.driver.query('SELECT * FROM machine_agent_started')).rowCount, 0);
    assert.equal((await bmdb.driver.query('SELECT * FROM work')).rowCount, 2, 'the locks stay until the session is collected');
    assert.deepEqual((await bmdb.driver.query('SELECT cause FROM work_backoff')).rows, [{ cause: 'earlier' }]);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => h.event), ['Started', 'Started']);
    await s.close();
  });

  it('a finish whose only write carries the commit is fenced too: lost or expired it writes nothing, held it commits', async () => {
    const bmdb = await open();
    const [m, n] = await provideMachines(bmdb, 2);
    const publicKey = new Uint8Array(32);
    const { session: s, hang } = await startHangableSession(bmdb, { component: 'a', processor: 'unittest' });
    const done = await s.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    await done.finish((q) => q.setAgentStarted({ machineId: m!, publicKey }, { commits: true }));
    assert.equal(done.state, 'finished');
    assert.deepEqual((await bmdb.driver.query('SELECT machine_id FROM machine_agent_started')).rows, [{ machine_id: m }]);
    const lost = await s.work('ShepherdAgentStart', async () => ({ machineId: n! }));
    await bmdb.driver.query('DELETE FROM work');
    await assert.rejects(lost.finish((q) => q.setAgentStarted({ machineId: n!, publicKey }, { commits: true })), WorkLostError);
    const expired = await s.work('ShepherdAgentStart', async () => ({ machineId: n! }));
    hang();
    await bmdb.driver.query(`UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_id = $1`, [s.sessionId]);
    await assert.rejects(expired.finish((q) => q.setAgentStarted({ machineId: n!, publicKey }, { commits: true })), SessionExpiredError);
    assert.equal(s.expired, true);
    assert.equal((await bmdb.driver.query('SELECT * FROM machine_agent_started')).rowCount, 1);
    assert.equal((await bmdb.driver.query('SELECT * FROM work')).rowCount, 1, 'the expired session keeps its lock until it is collected');
    const history = await bmdb.queries.listHistoryOf({ machineId: n! });
    assert.deepEqual(history.map((h) => h.event), ['Started', 'Started']);
    await s.close();
  });
});
