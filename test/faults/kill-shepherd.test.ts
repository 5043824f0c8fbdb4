// Fault: `kill -9` of a shepherd that holds work. Another shepherd must finish
// the machine within the dead session's deadline plus the collection grace,
// must not claim it before that deadline, and the machine is taken over once.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { describePostgres } from '../pg.ts';
import { describeSshd } from '../sshd.ts';
import { firstRow, startShepherdStand, waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';
import { reportFigure } from './figure.ts';

/** BmdbOptions.sessionGraceMs default: a dead session is collected this long after its deadline. */
const GRACE_MS = 10_000;
/** Keep-alive period of whoever collects, candidate polling and the takeover itself, on a loaded machine. */
const SLACK_MS = 15_000;

describeSshd('fault: kill -9 of a shepherd holding work', () => {
  describePostgres('kill -9 shepherd', () => {
    let stand: ShepherdStand | undefined;
    after(async () => stand?.close());

    it('another shepherd finishes the machine after the dead session expired, within deadline + grace, once', { timeout: 150_000 }, async (t) => {
      stand = await startShepherdStand({ machines: 1, hang: 'first' });
      const { admin } = stand;
      const a = stand.spawnShepherd();
      let b: ReturnType<ShepherdStand['spawnShepherd']> | undefined = undefined;
      const logs = () => `a:\n${a.stderr().slice(-1500)}\nb:\n${b?.stderr().slice(-1500) ?? ''}`;
      await waitWithLogs('shepherd a to hold work', logs, async () => (await firstRow(admin, `SELECT 1 FROM work WHERE process = 'ShepherdAgentStart'`)) !== undefined, 60_000, 100);
      b = stand.spawnShepherd();
      const other = b;
      await waitWithLogs('shepherd b to start its sessions', logs, async () => Number((await firstRow(admin, 'SELECT count(*)::int AS n FROM sessions'))?.n ?? 0) >= 4, 30_000, 100);

      const { session_id: deadSession, machine_id: machineId } = (await firstRow(admin, `SELECT session_id, machine_id FROM work WHERE process = 'ShepherdAgentStart'`))!;
      a.child.kill('SIGKILL');
      const killedAt = (await firstRow(admin, 'SELECT clock_timestamp() AS t'))!.t as Date;
      await a.exited;
      const deadline = (await firstRow(admin, 'SELECT session_deadline FROM sessions WHERE session_id = $1', [deadSession]))!.session_deadline as Date;

      const limitMs = deadline.getTime() - killedAt.getTime() + GRACE_MS + SLACK_MS;
      await waitWithLogs('the machine to be finished by shepherd b', logs, async () => (await firstRow(admin, 'SELECT 1 FROM machine_agent_started WHERE machine_id = $1', [machineId])) !== undefined, limitMs, 100);
      const history = (await admin.query<{ event: string; timestamp: Date; failed_cause: string | null }>(
        `SELECT event::text, timestamp, failed_cause FROM work_history WHERE machine_id = $1 AND process = 'ShepherdAgentStart' ORDER BY timestamp`,
        [machineId],
      )).rows;
      assert.deepEqual(history.map((h) => h.event), ['Started', 'Canceled', 'Started', 'Finished'], JSON.stringify(history));
      const reclaimed = history[2]!.timestamp;
      const finished = history[3]!.timestamp;
      assert.ok(history[1]!.timestamp >= deadline, 'the lock was collected only after the dead session\'s deadline');
      assert.ok(reclaimed >= deadline, `shepherd b claimed at ${reclaimed.toISOString()}, before the dead session's deadline ${deadline.toISOString()}`);
      const finishedMs = finished.getTime() - killedAt.getTime();
      assert.ok(finishedMs <= limitMs, `finished ${finishedMs} ms after the kill; limit ${limitMs} ms`);
      assert.equal((await stand.completedTakeovers()).length, 1, 'exactly one takeover completed');
      const finishedTotal = Number((await firstRow(admin, `SELECT count(*)::int AS n FROM work_history WHERE event = 'Finished' AND process = 'ShepherdAgentStart'`))!.n);
      assert.equal(finishedTotal, 1, 'no machine was taken over twice');

      const figure = `kill -9 shepherd: dead session's deadline ${deadline.getTime() - killedAt.getTime()} ms after the kill; lock collected after ${history[1]!.timestamp.getTime() - killedAt.getTime()} ms; reclaimed ${reclaimed.getTime() - deadline.getTime()} ms after the deadline; finished by the other shepherd ${finishedMs} ms after the kill (limit: deadline + ${GRACE_MS} ms grace + ${SLACK_MS} ms slack = ${limitMs} ms)`;
      reportFigure(t, figure);
      other.child.kill('SIGTERM');
      assert.equal(await other.exited, 0, other.stderr().slice(-2000));
    });
  });
});
