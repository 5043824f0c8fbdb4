// Fault: PostgreSQL restarts, then goes away for 15 s, under running shepherd,
// server, webug and scruffy processes (each under its role, on a cluster of
// this test's own). They must keep running, log the outage without a flood
// (the shepherd exactly once: one line when it starts, one when it ends),
// work again within 10 s of the database's return, and lose nothing committed.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { openBmdb } from '../../src/bmdb/index.ts';
import { clientCertificate } from '../../src/agent/index.ts';
import { callHeartbeat, enrolAgent } from '../agent-harness.ts';
import { spawnBmaas, waitFor, type BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { describePostgres } from '../pg.ts';
import { startPgCluster, type PgCluster } from '../pg-cluster.ts';
import { describeSshd } from '../sshd.ts';
import { startShepherdStand, waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';
import { reportFigure } from './figure.ts';

const OUTAGE_MS = 15_000;
const BACK_WITHIN_MS = 10_000;
/** More warnings than this from one process during one outage is a flood (per-attempt logging). */
const MAX_WARNINGS = 12;

/** One query on a fresh connection (the database comes and goes); undefined when it fails. */
async function row(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown> | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

const OUTAGE_STARTED = 'the database is unreachable; every part of this process retries by itself (failures are logged at debug until it answers again)';
const OUTAGE_ENDED = 'the database answers again';

/** Log lines of `text` whose msg is `msg`. */
function lines(text: string, msg: string): string[] {
  return text.split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
}

function warnings(text: string): string[] {
  return text.split('\n').filter((l) => {
    try {
      return (JSON.parse(l) as { level?: number }).level! >= 40;
    } catch {
      return false;
    }
  });
}

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
      const shepherd = stand.spawnShepherd();
      const server = spawnBmaas(['server', '--bmdb-url', stand.db.url('server'), '--listen-address', '127.0.0.1:0', '--dev-certs', '--dev-certs-dir', join(stand.dir, 'certs')]);
      const webug = spawnBmaas(['webug', '--bmdb-url', stand.db.url('webug'), '--listen-address', '127.0.0.1:0']);
      const scruffy = spawnBmaas(['scruffy', '--bmdb-url', stand.db.url('scruffy'), '--metrics-listen-address', '127.0.0.1:0', '--collection-interval', '1s']);
      const all = { shepherd, server, webug, scruffy };
      procs.push(...Object.values(all));
      const logs = () => Object.entries(all).map(([n, p]) => `${n} (exit ${p.child.exitCode}):\n${p.stdout().slice(-300)}${p.stderr().slice(-1200)}`).join('\n');
      await waitWithLogs('webug and scruffy to listen', logs, () => /webug: http/.test(webug.stdout()) && /metrics on http/.test(scruffy.stdout()), 90_000, 100);
      const webugUrl = `${/webug: (http\S+)/.exec(webug.stdout())![1]!.replace(/\/$/, '')}/api/machines`;
      const metricsUrl = /metrics on (http\S+)/.exec(scruffy.stdout())![1]!;
      await waitWithLogs('the server to listen', logs, () => /listening on 127\.0\.0\.1:\d+/.test(server.stdout()), 60_000);
      const endpoint = { endpoint: /listening on (127\.0\.0\.1:\d+)/.exec(server.stdout())![1]!, caCertificate: await readFile(join(stand.dir, 'certs', 'ca.der')) };
      // An agent of our own: each heartbeat the server accepts went through the BMDB.
      const agent = await (async () => {
        await using admin = await openBmdb({ url: adminUrl });
        return enrolAgent(admin);
      })();
      const agentCert = await clientCertificate(agent.key, agent.machineId);

      const checks = {
        shepherd: async (n: number) => Number((await row(adminUrl, 'SELECT count(*)::int AS n FROM machine_agent_started JOIN machine_provided USING (machine_id)'))?.n ?? 0) >= n,
        server: async () => {
          try {
            await callHeartbeat(endpoint, agentCert, { machineId: agent.machineId }, { timeoutMs: 3000 });
            return true;
          } catch {
            return false;
          }
        },
        webug: () => httpOk(webugUrl),
        scruffy: async (since: number) => {
          try {
            const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(3000) })).text();
            const m = /^scruffy_last_successful_collection_timestamp_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
            return m !== null && Number(m[1]) * 1000 > since;
          } catch {
            return false;
          }
        },
      };
      await waitWithLogs('the first takeover', logs, () => checks.shepherd(1), 60_000, 200);
      await waitWithLogs('a heartbeat through the server', logs, checks.server, 30_000, 200);
      await waitFor('webug to answer', checks.webug, 30_000, 200);
      await waitFor('scruffy to collect', () => checks.scruffy(0), 30_000, 200);

      /** Waits for every component after the database came back; returns ms per component. */
      const backAfter = async (returned: number, machines: number): Promise<Record<string, number>> => {
        const out: Record<string, number> = {};
        await Promise.all(
          Object.entries({ shepherd: () => checks.shepherd(machines), server: checks.server, webug: checks.webug, scruffy: () => checks.scruffy(returned) }).map(async ([name, check]) => {
            await waitWithLogs(`${name} to work again`, logs, check, BACK_WITHIN_MS + 20_000, 100);
            out[name] = Date.now() - returned;
          }),
        );
        return out;
      };
      const committed = async () => (await row(adminUrl, `SELECT (SELECT count(*) FROM machines)::int AS machines, (SELECT count(*) FROM work_history)::int AS history, (SELECT count(*) FROM machine_agent_started)::int AS started`)) as { machines: number; history: number; started: number };

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
      const outageLines = { started: lines(shepherdLog, OUTAGE_STARTED).length, ended: lines(shepherdLog, OUTAGE_ENDED).length };
      assert.deepEqual(outageLines, { started: 1, ended: 1 }, `the shepherd reports the outage once:\n${warnings(shepherdLog).join('\n')}`);
      assert.deepEqual(shepherdMessages, [OUTAGE_STARTED], `the shepherd logs nothing else above info during the outage:\n${warnings(shepherdLog).join('\n')}`);
      for (const [name, n] of Object.entries(warned)) assert.ok(n <= MAX_WARNINGS, `${name} logged ${n} warnings in one outage:\n${warnings(all[name as keyof typeof all].stderr().slice(offsets[name])).join('\n')}`);
      for (const name of ['shepherd', 'server', 'scruffy'] as const) assert.ok(warned[name]! >= 1, `${name} logged the outage`);
      for (const [name, ms] of Object.entries({ ...afterRestart, ...afterOutage })) assert.ok(ms <= BACK_WITHIN_MS, `${name} took ${ms} ms`);

      const figure = `database outage: working again after the restart in ${JSON.stringify(afterRestart)} ms, after the ${OUTAGE_MS / 1000} s outage in ${JSON.stringify(afterOutage)} ms (limit ${BACK_WITHIN_MS} ms); warnings logged during the outage ${JSON.stringify(warned)} (shepherd: ${outageLines.started} line when it started, ${outageLines.ended} when it ended); committed before/after ${JSON.stringify(before2)} → ${JSON.stringify(after2)}`;
      reportFigure(t, figure);
      for (const p of Object.values(all)) p.child.kill('SIGTERM');
      for (const [name, p] of Object.entries(all)) assert.equal(await p.exited, 0, `${name}:\n${p.stderr().slice(-2000)}`);
    });
  });
});
