// Fault: a database connection that goes half-open. Shepherd a reaches
// PostgreSQL through a TCP proxy that, while a holds work, stops forwarding
// without closing anything; its takeover then completes and it tries to
// finish. It must never manage to (the finish is fenced by its session's
// deadline), it must notice its session expired on its own (bounded query and
// keep-alive timeouts), and shepherd b, connected directly, must collect the
// dead session and complete the machine. When the path heals, a's late
// writes change nothing and it carries on with a new session.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { describePostgres } from '../pg.ts';
import { describeSshd } from '../sshd.ts';
import { firstRow, startShepherdStand, waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';
import { startStallingProxy, type StallingProxy } from './stalling-proxy.ts';
import { reportFigure } from './figure.ts';

/** BmdbOptions.sessionGraceMs default. */
const GRACE_MS = 10_000;
/** Collection keep-alive period, candidate polling and the takeover itself, on a loaded machine. */
const SLACK_MS = 15_000;

/** pino's `time` of the first line of `log` whose msg is `msg` (after `since`). */
function loggedAt(log: string, msg: string, since = 0): number | undefined {
  for (const line of log.split('\n')) {
    try {
      const l = JSON.parse(line) as { msg?: string; time?: number };
      if (l.msg === msg && (l.time ?? 0) >= since) return l.time;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

describeSshd('fault: a half-open database connection', () => {
  describePostgres('half-open connection', () => {
    let stand: ShepherdStand | undefined;
    let proxy: StallingProxy | undefined;
    after(async () => {
      await stand?.close();
      await proxy?.close();
    });

    it('the stale shepherd cannot finish its work, its session expires, another shepherd completes the machine', { timeout: 150_000 }, async (t) => {
      stand = await startShepherdStand({ machines: 1, hang: 'gate' });
      const { admin } = stand;
      const direct = new URL(stand.db.url('shepherd'));
      proxy = await startStallingProxy({ host: direct.hostname, port: Number(direct.port) });
      const viaProxy = new URL(direct);
      viaProxy.host = proxy.address;
      // At debug: a's session expiry is counted under the outage it reports once, at debug.
      const a = stand.spawnShepherd(['--log-level', 'debug'], { url: viaProxy.toString() });
      let b: ReturnType<ShepherdStand['spawnShepherd']> | undefined = undefined;
      const logs = () => `a:\n${a.stderr().slice(-2000)}\nb:\n${b?.stderr().slice(-1500) ?? ''}`;
      await waitWithLogs('shepherd a to hold work', logs, async () => (await firstRow(admin, `SELECT 1 FROM work WHERE process = 'ShepherdAgentStart'`)) !== undefined, 60_000, 100);
      const { session_id: staleSession, machine_id: machineId } = (await firstRow(admin, `SELECT session_id, machine_id FROM work WHERE process = 'ShepherdAgentStart'`))!;
      b = stand.spawnShepherd();
      const other = b;
      await waitWithLogs('shepherd b to start its sessions', logs, async () => Number((await firstRow(admin, 'SELECT count(*)::int AS n FROM sessions'))?.n ?? 0) >= 6, 30_000, 100);

      proxy.stall();
      const stalledAt = Date.now();
      const stalledDb = (await firstRow(admin, 'SELECT clock_timestamp() AS t'))!.t as Date;
      // a's takeover now completes; its finish has to go down the silent connection.
      await stand.releaseGate();
      await delay(300);
      const deadline = (await firstRow(admin, 'SELECT session_deadline FROM sessions WHERE session_id = $1', [staleSession]))!.session_deadline as Date;
      const limitMs = deadline.getTime() - stalledDb.getTime() + GRACE_MS + SLACK_MS;
      await waitWithLogs('the machine to be completed by shepherd b', logs, async () => (await firstRow(admin, 'SELECT 1 FROM machine_agent_started WHERE machine_id = $1', [machineId])) !== undefined, limitMs, 100);
      const completedMs = Date.now() - stalledAt;
      const noticedAt = loggedAt(a.stderr(), 'session expired', stalledAt);
      assert.ok(noticedAt !== undefined, `shepherd a noticed its session expired:\n${a.stderr().slice(-3000)}`);
      const reportedAt = loggedAt(a.stderr(), 'the database is unreachable; every part of this process retries by itself (failures are logged at debug until it answers again)', stalledAt);
      assert.ok(reportedAt !== undefined, 'shepherd a reported the silent database');

      // The path heals: whatever a still had in flight arrives late.
      proxy.resume();
      const resumedAt = Date.now();
      await waitWithLogs('shepherd a to start a new session', logs, () => loggedAt(a.stderr(), 'started BMDB session after failed attempts', resumedAt) !== undefined || loggedAt(a.stderr(), 'started BMDB session', resumedAt) !== undefined, 30_000, 100);
      const backMs = Date.now() - resumedAt;
      await delay(2000);

      const history = (await admin.query<{ event: string; timestamp: Date }>(
        `SELECT event::text, timestamp FROM work_history WHERE machine_id = $1 AND process = 'ShepherdAgentStart' ORDER BY timestamp`,
        [machineId],
      )).rows;
      assert.deepEqual(history.map((h) => h.event), ['Started', 'Canceled', 'Started', 'Finished'], JSON.stringify(history));
      assert.ok(history[1]!.timestamp >= deadline, 'the stale lock was collected only after its deadline');
      assert.ok(history[2]!.timestamp >= deadline, 'shepherd b claimed only after the stale deadline');
      assert.equal(Number((await firstRow(admin, 'SELECT count(*)::int AS n FROM machine_agent_started WHERE machine_id = $1', [machineId]))!.n), 1);
      assert.equal(Number((await firstRow(admin, 'SELECT count(*)::int AS n FROM sessions WHERE session_id = $1', [staleSession]))!.n), 0, 'the stale session is gone');
      assert.equal(a.child.exitCode, null, `shepherd a kept running:\n${a.stderr().slice(-2000)}`);

      const figure = `half-open connection: stale session's deadline ${deadline.getTime() - stalledDb.getTime()} ms after the stall; shepherd a reported the database unreachable after ${reportedAt - stalledAt} ms and noticed its session expired after ${noticedAt - stalledAt} ms; lock collected ${history[1]!.timestamp.getTime() - stalledDb.getTime()} ms after the stall; shepherd b completed the machine ${completedMs} ms after it (limit ${limitMs} ms); a's finish never landed (history ${history.map((h) => h.event).join(', ')}); a back on a new session ${backMs} ms after the path healed; takeovers run ${(await stand.completedTakeovers()).length}`;
      reportFigure(t, figure);
      for (const p of [a, other]) p.child.kill('SIGTERM');
      assert.equal(await a.exited, 0, a.stderr().slice(-2000));
      assert.equal(await other.exited, 0, other.stderr().slice(-2000));
    });
  });
});
