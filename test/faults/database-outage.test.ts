// Fault: PostgreSQL restarts, then goes away for 15 s, under running shepherd,
// server, webug and scruffy processes (each under its role, on a cluster of
// this test's own). They must keep running, log the outage without a flood
// (the shepherd exactly once: one line when it starts, one when it ends),
// work again within 10 s of the database's return, and lose nothing committed.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { describePostgres } from '../pg.ts';
import { startPgCluster, type PgCluster } from '../pg-cluster.ts';
import { describeSshd } from '../sshd.ts';
import { logLines, OUTAGE_ENDED, OUTAGE_STARTED, startComponents, warnings } from './component-stand.ts';
import { startShepherdStand, type ShepherdStand } from './shepherd-stand.ts';
import { reportFigure } from './figure.ts';

const OUTAGE_MS = 15_000;
const BACK_WITHIN_MS = 10_000;
/** More warnings than this from one process during one outage is a flood (per-attempt logging). */
const MAX_WARNINGS = 12;

describeSshd('fault: PostgreSQL restart and outage', () => {
  describePostgres('database outage', () => {
    let cluster: PgCluster | undefined;
    let stand: ShepherdStand | undefined;
    const procs: BmaasProcess[] = [];
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await stand?.close().catch(() => undefined);
      await cluster?.stop();
    });

    it('every component keeps running and works again within 10 s of the return; nothing committed is lost', { timeout: 180_000 }, async (t) => {
      cluster = await startPgCluster();
      stand = await startShepherdStand({ machines: 1, hang: 'never', clusterAdminUrl: cluster.adminUrl });
      const adminUrl = stand.db.adminUrl;
      const pgLog = join(dirname(cluster.dataDir), 'restarted.log');
      const { all, checks, committed, backAfter: waitBack, stop } = await startComponents(stand, { url: (c) => stand!.db.url(c), adminUrl: () => adminUrl, track: (p) => procs.push(p) });
      const { shepherd } = all;
      const backAfter = (since: number, machines: number) => waitBack(since, machines, BACK_WITHIN_MS + 20_000);

      // 1. A restart.
      const before1 = await committed();
      await cluster.ctl(['-w', '-t', '60', '-m', 'fast', '-l', pgLog, 'restart']);
      const restarted = Date.now();
      const afterRestart = await backAfter(restarted, 1);

      // 2. A 15 s outage, during which the device list grows by one machine.
      const before2 = await committed();
      assert.ok(before2.history >= before1.history && before2.started >= before1.started, 'nothing lost in the restart');
      const offsets = Object.fromEntries(Object.entries(all).map(([n, p]) => [n, p.stderr().length]));
      await cluster.ctl(['-w', '-t', '60', '-m', 'fast', 'stop']);
      await stand.writeDevices(2);
      shepherd.child.kill('SIGHUP');
      await delay(OUTAGE_MS / 2);
      assert.equal(await checks.webug(), false, 'webug answers an error while the database is down');
      await delay(OUTAGE_MS / 2);
      await cluster.ctl(['-w', '-t', '60', '-l', pgLog, '-o', `-p ${cluster.port}`, 'start']);
      const returned = Date.now();
      const afterOutage = await backAfter(returned, 2);
      const after2 = await committed();
      assert.ok(after2.history >= before2.history && after2.machines === before2.machines + 1 && after2.started === before2.started + 1, JSON.stringify({ before2, after2 }));

      for (const [name, p] of Object.entries(all)) assert.equal(p.child.exitCode, null, `${name} kept running:\n${p.stderr().slice(-2000)}`);
      const warned = Object.fromEntries(Object.entries(all).map(([n, p]) => [n, warnings(p.stderr().slice(offsets[n])).length]));
      // The shepherd's loops, sessions and pooled connections all notice the
      // outage; the process reports it once (src/bmdb/outage.ts): one line
      // when it starts, one when it ends, and nothing else above info.
      const shepherdLog = shepherd.stderr().slice(offsets.shepherd);
      const shepherdMessages = warnings(shepherdLog).map((l) => (JSON.parse(l) as { msg: string }).msg);
      const outageLines = { started: logLines(shepherdLog, OUTAGE_STARTED).length, ended: logLines(shepherdLog, OUTAGE_ENDED).length };
      assert.deepEqual(outageLines, { started: 1, ended: 1 }, `the shepherd reports the outage once:\n${warnings(shepherdLog).join('\n')}`);
      assert.deepEqual(shepherdMessages, [OUTAGE_STARTED], `the shepherd logs nothing else above info during the outage:\n${warnings(shepherdLog).join('\n')}`);
      for (const [name, n] of Object.entries(warned)) assert.ok(n <= MAX_WARNINGS, `${name} logged ${n} warnings in one outage:\n${warnings(all[name as keyof typeof all].stderr().slice(offsets[name])).join('\n')}`);
      for (const name of ['shepherd', 'server', 'scruffy'] as const) assert.ok(warned[name]! >= 1, `${name} logged the outage`);
      for (const [name, ms] of Object.entries({ ...afterRestart, ...afterOutage })) assert.ok(ms <= BACK_WITHIN_MS, `${name} took ${ms} ms`);

      const figure = `database outage: working again after the restart in ${JSON.stringify(afterRestart)} ms, after the ${OUTAGE_MS / 1000} s outage in ${JSON.stringify(afterOutage)} ms (limit ${BACK_WITHIN_MS} ms); warnings logged during the outage ${JSON.stringify(warned)} (shepherd: ${outageLines.started} line when it started, ${outageLines.ended} when it ended); committed before/after ${JSON.stringify(before2)} → ${JSON.stringify(after2)}`;
      reportFigure(t, figure);
      assert.deepEqual(await stop(), { shepherd: 0, server: 0, webug: 0, scruffy: 0 }, 'every component stopped cleanly');
    });
  });
});
