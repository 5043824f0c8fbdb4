// Fault: PostgreSQL restarts, then goes away for 15 s, under running shepherd,
// server, webug and scruffy processes (each under its role, on a cluster of
// this test's own). They must keep running, log the outage exactly once (one
// line when it starts, one when it ends, nothing else at warn or above),
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
      // Every process's loops, sessions, requests and pooled connections notice
      // the outage; each process reports it once (src/bmdb/outage.ts): one line
      // when it starts, one when it ends, and nothing else at warn or above.
      const outageLogs = Object.fromEntries(Object.entries(all).map(([n, p]) => [n, p.stderr().slice(offsets[n])])) as Record<keyof typeof all, string>;
      const warned = Object.fromEntries(Object.entries(outageLogs).map(([n, text]) => [n, warnings(text).length]));
      const outageLines = Object.fromEntries(Object.entries(outageLogs).map(([n, text]) => [n, { started: logLines(text, OUTAGE_STARTED).length, ended: logLines(text, OUTAGE_ENDED).length }]));
      for (const [name, text] of Object.entries(outageLogs)) {
        assert.deepEqual(outageLines[name], { started: 1, ended: 1 }, `${name} reports the outage once:\n${warnings(text).join('\n')}`);
        assert.deepEqual(warnings(text).map((l) => (JSON.parse(l) as { msg: string }).msg), [OUTAGE_STARTED], `${name} logs nothing else at warn or above during the outage:\n${warnings(text).join('\n')}`);
      }
      for (const [name, ms] of Object.entries({ ...afterRestart, ...afterOutage })) assert.ok(ms <= BACK_WITHIN_MS, `${name} took ${ms} ms`);

      const figure = `database outage: working again after the restart in ${JSON.stringify(afterRestart)} ms, after the ${OUTAGE_MS / 1000} s outage in ${JSON.stringify(afterOutage)} ms (limit ${BACK_WITHIN_MS} ms); warnings logged during the outage ${JSON.stringify(warned)} (outage lines started/ended ${JSON.stringify(Object.fromEntries(Object.entries(outageLines).map(([n, l]) => [n, `${l.started}/${l.ended}`])))}); committed before/after ${JSON.stringify(before2)} → ${JSON.stringify(after2)}`;
      reportFigure(t, figure);
      assert.deepEqual(await stop(), { shepherd: 0, server: 0, webug: 0, scruffy: 0 }, 'every component stopped cleanly');
    });
  });
});
