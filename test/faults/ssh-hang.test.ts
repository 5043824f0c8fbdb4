// Fault: an SSH host that accepts the connection, authenticates, and then
// hangs in the middle of the exec. The exec timeout must free the worker (a
// single one here, so it goes on to the next machine) and the machine must
// back off with that cause.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { describePostgres } from '../pg.ts';
import { describeSshd } from '../sshd.ts';
import { firstRow, startShepherdStand, waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';
import { reportFigure } from './figure.ts';

const EXEC_TIMEOUT_MS = 3000;

describeSshd('fault: an SSH host that hangs mid-exec', () => {
  describePostgres('ssh hang', () => {
    let stand: ShepherdStand | undefined;
    after(async () => stand?.close());

    it('the exec timeout frees the single worker and each machine backs off with that cause', { timeout: 120_000 }, async (t) => {
      stand = await startShepherdStand({ machines: 2, hang: 'always' });
      const { admin } = stand;
      const shepherd = stand.spawnShepherd(['--agent-ssh-exec-timeout', `${EXEC_TIMEOUT_MS}ms`, '--initializer-loop-parallelism', '1', '--initializer-backoff-initial', '1h']);
      await waitWithLogs(
        'both machines to back off',
        () => shepherd.stderr().slice(-2000),
        async () => Number((await firstRow(admin, `SELECT count(*)::int AS n FROM work_backoff WHERE process = 'ShepherdAgentStart'`))?.n ?? 0) === 2,
        EXEC_TIMEOUT_MS * 2 + 30_000,
        100,
      );
      const backoffs = (await admin.query<{ cause: string; secs: number }>(`SELECT cause, extract(epoch FROM until - now())::int AS secs FROM work_backoff WHERE process = 'ShepherdAgentStart'`)).rows;
      for (const b of backoffs) {
        assert.match(b.cause, new RegExp(`exec timeout of ${EXEC_TIMEOUT_MS} ms`), b.cause);
        assert.ok(b.secs > 3000, `backoff of about an hour, got ${b.secs} s`);
      }
      const runs = (await admin.query<{ ms: number }>(
        `SELECT extract(epoch FROM f.timestamp - s.timestamp) * 1000 AS ms FROM work_history s
         JOIN LATERAL (SELECT timestamp FROM work_history f WHERE f.machine_id = s.machine_id AND f.process = s.process AND f.event = 'Failed' AND f.timestamp > s.timestamp ORDER BY f.timestamp LIMIT 1) f ON true
         WHERE s.event = 'Started' AND s.process = 'ShepherdAgentStart' ORDER BY s.timestamp`,
      )).rows.map((r) => Math.round(Number(r.ms)));
      assert.equal(runs.length, 2);
      for (const ms of runs) assert.ok(ms >= EXEC_TIMEOUT_MS && ms < EXEC_TIMEOUT_MS + 10_000, `a hung run held its worker ${ms} ms`);
      assert.equal(Number((await firstRow(admin, 'SELECT count(*)::int AS n FROM work'))!.n), 0, 'no work is held any more');
      assert.equal((await stand.completedTakeovers()).length, 0);
      const figure = `ssh hang: exec timeout ${EXEC_TIMEOUT_MS} ms; each hung run held the worker ${runs.join(' ms, ')} ms, then failed with "${backoffs[0]!.cause}" and a ${backoffs[0]!.secs} s backoff`;
      reportFigure(t, figure);
      shepherd.child.kill('SIGTERM');
      assert.equal(await shepherd.exited, 0, shepherd.stderr().slice(-2000));
    });
  });
});
