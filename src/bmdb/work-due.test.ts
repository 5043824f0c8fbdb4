// The work schedule (docs/architecture.md#work-schedule): hints lead the
// candidate queries, the full predicate decides, and the sweep repairs hints
// that a write missed.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import type { Bmdb } from './connection.ts';

const agentStart = (bmdb: Bmdb) => bmdb.transact('unittest', async (q) => (await q.getAgentStartCandidates({ provider: 'None', limit: 10 })).map((m) => m.machineId));
const recovery = (bmdb: Bmdb) => bmdb.transact('unittest', async (q) => (await q.getRecoveryCandidates({ provider: 'None', limit: 10 })).map((m) => m.machineId));
const sweepAll = (bmdb: Bmdb) => bmdb.transact('unittest', (q) => q.sweepWorkDue({ after: null, limit: 1000 }));
const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);

describeBmdb('work schedule', ({ open }) => {
  it('a missed hint costs a late pick-up: the sweep puts it back', async () => {
    const bmdb = await open();
    const [a, r] = await provideMachines(bmdb, 2);
    await bmdb.queries.setAgentStarted({ machineId: r!, startedAt: hoursAgo(1), publicKey: new Uint8Array(32) });
    assert.deepEqual(await agentStart(bmdb), [a]);
    assert.deepEqual(await recovery(bmdb), [r]);
    // Writes behind the schedule's back (raw SQL) leave no hints.
    await bmdb.driver.query('DELETE FROM machine_work_due', []);
    assert.deepEqual(await agentStart(bmdb), []);
    assert.deepEqual(await recovery(bmdb), []);
    const swept = await sweepAll(bmdb);
    assert.equal(swept.next, null);
    assert.equal(swept.repaired, 2);
    assert.deepEqual(await agentStart(bmdb), [a]);
    assert.deepEqual(await recovery(bmdb), [r]);
    assert.equal((await sweepAll(bmdb)).repaired, 0, 'a second sweep finds nothing to repair');
  });

  it('a wrong hint never yields a non-candidate', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await bmdb.queries.setAgentStarted({ machineId: m!, startedAt: hoursAgo(5), publicKey: new Uint8Array(32) });
    await bmdb.queries.setAgentHeartbeat({ machineId: m! });
    await bmdb.driver.query(
      `INSERT INTO machine_work_due (machine_id, process, due_basis) VALUES ($1, 'ShepherdAgentStart', now() - interval '1 day'), ($1, 'ShepherdRecovery', now() - interval '1 day')
       ON CONFLICT (machine_id, process) DO UPDATE SET due_basis = excluded.due_basis`,
      [m],
    );
    // Started and heartbeating: a candidate for neither, whatever the hints say.
    assert.deepEqual(await agentStart(bmdb), []);
    assert.deepEqual(await recovery(bmdb), []);
    await sweepAll(bmdb);
    const left = await bmdb.driver.query('SELECT process FROM machine_work_due WHERE machine_id = $1', [m]);
    assert.deepEqual(left.rows, [], 'the sweep drops both wrong hints');
  });

  it('writes keep the hints: agent start, heartbeat, backoff', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const hints = async () =>
      (await bmdb.driver.query('SELECT process, due_basis > now() AS later FROM machine_work_due WHERE machine_id = $1 ORDER BY process', [m])).rows.map(
        (r) => `${r.process as string}${r.later ? ' later' : ''}`,
      );
    assert.deepEqual(await hints(), ['ShepherdAgentStart']);
    const s = await bmdb.startSession({ component: 'initializer', processor: 'unittest' });
    const w = await s.work('ShepherdAgentStart', async (q) => (await q.getAgentStartCandidates({ provider: 'None', limit: 1 }))[0]);
    await w.fail({ initialMs: 60_000 }, 'test');
    assert.deepEqual(await hints(), ['ShepherdAgentStart later'], 'a backoff moves the hint to its end');
    assert.deepEqual(await agentStart(bmdb), []);
    await bmdb.queries.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32) });
    assert.deepEqual(await hints(), ['ShepherdRecovery'], 'started: only the first-heartbeat hint');
    // The hint is due from the start time stored with the tag, also when a later start replaces it.
    const basis = async () =>
      (
        await bmdb.driver.query(
          `SELECT d.due_basis = s.agent_started_at AS same, s.agent_started_at FROM machine_work_due d JOIN machine_agent_started s USING (machine_id) WHERE d.machine_id = $1`,
          [m],
        )
      ).rows[0];
    assert.equal((await basis())?.same, true);
    const restarted = new Date(Date.now() - 3_600_000);
    await bmdb.queries.setAgentStarted({ machineId: m!, startedAt: restarted, publicKey: new Uint8Array(32).fill(1) });
    const again = await basis();
    assert.equal(again?.same, true);
    assert.equal((again?.agent_started_at as Date).getTime(), restarted.getTime());
    await bmdb.queries.setAgentHeartbeat({ machineId: m! });
    assert.deepEqual(await hints(), ['ShepherdRecovery'], 'the heartbeat write does not touch the schedule');
    await sweepAll(bmdb);
    assert.deepEqual(await hints(), [], 'the sweep drops the hint of an agent that heartbeated');
    await bmdb.queries.deleteAgentHeartbeat({ machineId: m! });
    assert.deepEqual(await hints(), ['ShepherdRecovery']);
    await bmdb.queries.deleteAgentStarted({ machineId: m! });
    assert.deepEqual(await hints(), ['ShepherdAgentStart later'], 'back to agent start, still after the backoff');
    await s.close();
  });

  it('the sweep walks the fleet in bounded steps', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 5);
    await bmdb.driver.query('DELETE FROM machine_work_due', []);
    let after: string | null = null;
    let steps = 0;
    let repaired = 0;
    do {
      const r: { next: string | null; repaired: number } = await bmdb.transact('unittest', (q) => q.sweepWorkDue({ after, limit: 2 }));
      after = r.next;
      repaired += r.repaired;
      steps++;
    } while (after !== null);
    assert.equal(steps, 3);
    assert.equal(repaired, 5);
    assert.equal((await agentStart(bmdb)).length, 5);
  });

  it('the migration backfills the schedule for machines that exist', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await bmdb.migrateDown({ steps: 1 });
    await bmdb.migrateUp();
    assert.deepEqual(await agentStart(bmdb), [m]);
  });
});
