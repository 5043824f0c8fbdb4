// Fault: failover under every component. A primary with a synchronous
// streaming standby (pg_basebackup, standby.signal); shepherd, server, webug
// and scruffy run under their roles with both hosts in --bmdb-url. The primary
// is stopped and the standby promoted; meanwhile the device list grows by a
// machine. Every component must work against the new primary within 15 s,
// nothing committed before may be missing there, and no work may be done twice.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import pg from 'pg';
import type { RoleComponent } from '../../src/bmdb/index.ts';
import type { BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { describePostgres } from '../pg.ts';
import { startPgCluster, startPgStandby, type PgCluster } from '../pg-cluster.ts';
import { describeSshd } from '../sshd.ts';
import { logLines, OUTAGE_ENDED, OUTAGE_STARTED, row, startComponents, warnings } from './component-stand.ts';
import { reportFigure } from './figure.ts';
import { startShepherdStand, waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';

const WORKING_WITHIN_MS = 15_000;

async function adminExec(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describeSshd('fault: failover under every component', () => {
  describePostgres('failover', () => {
    let primary: PgCluster | undefined;
    let standby: PgCluster | undefined;
    let stand: ShepherdStand | undefined;
    const procs: BmaasProcess[] = [];
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      // Its database went with the old primary; close() only stops its processes and sshd then.
      await stand?.close().catch(() => undefined);
      await standby?.stop();
      await primary?.stop();
    });

    it('every component works against the promoted standby within 15 s; nothing committed is lost, no work is done twice', { timeout: 180_000 }, async (t) => {
      primary = await startPgCluster({ settings: { synchronous_commit: 'on' } });
      standby = await startPgStandby(primary, { applicationName: 'standby1' });
      // After the base backup, so the promoted standby does not wait for a standby of its own.
      await adminExec(primary.adminUrl, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
      await adminExec(primary.adminUrl, 'SELECT pg_reload_conf()');
      await waitWithLogs('the standby to replicate synchronously', () => '', async () => (await row(primary!.adminUrl, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'"))?.sync_state === 'sync', 30_000, 100);

      stand = await startShepherdStand({ machines: 1, hang: 'never', clusterAdminUrl: primary.adminUrl });
      const hosts = `127.0.0.1:${primary.port},127.0.0.1:${standby.port}`;
      const bothHosts = (url: string): string => `${url.replace(`127.0.0.1:${primary!.port}`, hosts)}${url.includes('?') ? '&' : '?'}target_session_attrs=read-write`;
      let adminUrl = stand.db.adminUrl;
      const { all, logs, committed, backAfter, stop } = await startComponents(stand, {
        url: (c: RoleComponent) => bothHosts(stand!.db.url(c)),
        adminUrl: () => adminUrl,
        track: (p) => procs.push(p),
      });

      const before = await committed();
      const offsets = Object.fromEntries(Object.entries(all).map(([n, p]) => [n, p.stderr().length]));
      await primary.ctl(['-m', 'fast', '-w', 'stop']);
      const stoppedAt = Date.now();
      await standby.ctl(['-w', 'promote']);
      const promotedAt = Date.now();
      adminUrl = adminUrl.replace(`127.0.0.1:${primary.port}`, `127.0.0.1:${standby.port}`);
      await stand.writeDevices(2);
      all.shepherd.child.kill('SIGHUP');
      const back = await backAfter(promotedAt, 2, WORKING_WITHIN_MS + 15_000);
      const afterwards = await committed();

      assert.ok(afterwards.history >= before.history && afterwards.machines === before.machines + 1 && afterwards.started === before.started + 1, `nothing committed was lost: ${JSON.stringify({ before, afterwards })}`);
      const twice = await row(adminUrl, `SELECT count(*)::int AS n FROM (SELECT machine_id FROM work_history WHERE event = 'Finished' AND process = 'ShepherdAgentStart' GROUP BY machine_id HAVING count(*) > 1) x`);
      assert.equal(twice?.n, 0, 'no machine was taken over twice');
      for (const [name, p] of Object.entries(all)) assert.equal(p.child.exitCode, null, `${name} kept running:\n${p.stderr().slice(-2000)}`);
      for (const [name, ms] of Object.entries(back)) assert.ok(ms <= WORKING_WITHIN_MS, `${name} worked again ${ms} ms after the promotion (limit ${WORKING_WITHIN_MS} ms):\n${logs()}`);
      // Each process reports the switch as one outage (one line when it starts,
      // one when it ends) and nothing else at warn or above: not the sessions
      // whose deadline passed meanwhile, not the calls that failed.
      const switchLogs = Object.fromEntries(Object.entries(all).map(([n, p]) => [n, p.stderr().slice(offsets[n])]));
      for (const [name, text] of Object.entries(switchLogs)) {
        const loud = warnings(text).map((l) => (JSON.parse(l) as { msg: string }).msg);
        assert.ok(loud.length <= 1 && loud.every((m) => m === OUTAGE_STARTED), `${name} logs only the outage line at warn or above:\n${warnings(text).join('\n')}`);
      }
      const shepherdLog = switchLogs.shepherd ?? '';
      const outage = { started: logLines(shepherdLog, OUTAGE_STARTED).length, ended: logLines(shepherdLog, OUTAGE_ENDED).length };
      assert.deepEqual(outage, { started: 1, ended: 1 }, 'the shepherd reports the switch as one outage');

      reportFigure(
        t,
        `failover under every component: promoted ${promotedAt - stoppedAt} ms after the primary stopped; working on the new primary after the promotion in ${JSON.stringify(back)} ms (limit ${WORKING_WITHIN_MS} ms); shepherd logged ${outage.started} outage line and ${outage.ended} recovery line; committed before ${JSON.stringify(before)}, on the new primary ${JSON.stringify(afterwards)} (the new machine taken over there); machines taken over twice: 0`,
      );
      assert.deepEqual(await stop(), { shepherd: 0, server: 0, webug: 0, scruffy: 0 }, 'every component stopped cleanly');
    });
  });
});
