// The shipped Prometheus rules under promtool, and a real Prometheus scraping
// `bmaas scruffy` (as a child process, under a SELECT-only role) against a
// seeded PostgreSQL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import pg from 'pg';
import { openBmdb } from '../src/bmdb/index.ts';
import { NINE_MACHINES_EXPECTED, seedNineMachines } from '../src/scruffy/testing/fleet.ts';
import { AgentHardwareReportSchema, encodeMessage } from '../src/proto/index.ts';
import { createTestDatabase, describePostgres } from './pg.ts';
import { describePrometheus, eventually, runPromtool, startPrometheus } from './prometheus.ts';

const RULES_DIR = join(import.meta.dirname, '..', 'deploy', 'prometheus');
const RULES = join(RULES_DIR, 'bmaas.rules.yml');
const DASHBOARD = join(import.meta.dirname, '..', 'deploy', 'grafana', 'bmaas-dashboard.json');

describePrometheus('shipped rules', () => {
  it('pass promtool check rules', async () => {
    const r = await runPromtool(['check', 'rules', RULES], { signal: AbortSignal.timeout(60_000) });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  it('pass their unit tests (promtool test rules)', async () => {
    const r = await runPromtool(['test', 'rules', 'bmaas.rules.test.yml'], { cwd: RULES_DIR, signal: AbortSignal.timeout(60_000) });
    assert.equal(r.code, 0, r.output);
  });
});

describePrometheus('Prometheus scrapes bmaas scruffy', () => {
  describePostgres('bmaas scruffy on a seeded PostgreSQL, scraped by a real Prometheus', () => {
    it('answers PromQL with the counts the BMDB holds, and follows changes', async (t) => {
      const signal = AbortSignal.timeout(240_000);
      // Undone last first: the database is dropped after everything that uses it.
      const cleanups: Array<() => Promise<unknown>> = [];
      after(async () => {
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      });
      const db = await createTestDatabase({ signal });
      cleanups.push(() => db.drop());
      const bmdb = await openBmdb({ url: db.url, migrate: true, signal });
      cleanups.push(() => bmdb.close());
      await bmdb.transact('unittest', async (q) => {
        await seedNineMachines(q.db);
        const ids = (await q.db.query('SELECT machine_id FROM machine_provided ORDER BY machine_id LIMIT 2')).rows.map((r) => String(r.machine_id));
        const report = encodeMessage(AgentHardwareReportSchema, { report: { memoryInstalledBytes: 64n << 30n, cpu: [{ hardwareThreads: 16 }] } });
        for (const id of ids) await q.setHardwareReport({ machineId: id, raw: report });
      });

      // A role that may only read, as scruffy is meant to run in production.
      const role = `scruffy_ro_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      // The role is cluster-wide: it goes before the database does.
      cleanups.push(async () => {
        await admin.query(`DROP OWNED BY ${role}`);
        await admin.query(`DROP ROLE ${role}`);
        await admin.end();
      });
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      const roUrl = new URL(db.url);
      roUrl.username = role;
      roUrl.password = '';

      const child = spawn(
        process.execPath,
        [join(import.meta.dirname, 'scruffy-command-entry.ts'), '--bmdb-url', roUrl.toString(), '--metrics-listen-address', '127.0.0.1:0', '--collection-interval', '1s', '--stuck-limit', 'silent=10m', '--log-level', 'warn'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = once(child, 'exit');
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      const address = await eventually('scruffy to print its metrics address', () => {
        if (child.exitCode !== null) throw new Error(`scruffy exited with ${child.exitCode}: ${stderr}`);
        return Promise.resolve(/metrics on http:\/\/([^/\s]+)\/metrics/.exec(stdout)?.[1]);
      });

      await using prometheus = await startPrometheus({ targets: [address], ruleFiles: [RULES], signal });
      const valueOf = async (expr: string): Promise<number | undefined> => (await prometheus.query(expr, { signal }))[0]?.value;

      const heartbeating = await eventually('Prometheus to have scraped a collection', () => valueOf('bmdb_stats_machines_heartbeating{job="bmaas"}'));
      const fromBmdb = await bmdb.queries.countMachinesHeartbeating();
      assert.equal(heartbeating, fromBmdb);
      assert.equal(heartbeating, NINE_MACHINES_EXPECTED.bmdb_stats_machines_heartbeating);
      for (const [name, want] of Object.entries(NINE_MACHINES_EXPECTED)) assert.equal(await valueOf(name), want, name);
      // The two reported machines may sit in different regions (one series each).
      assert.equal(await valueOf('sum(bmdb_hwstats_region_nodes)'), 2);
      // The four silent machines have been silent for an hour, beyond the 10 min given.
      assert.equal(await valueOf('bmdb_stats_machines_stuck{state="silent"}'), 4);
      assert.equal(await valueOf('scruffy_collection_failures_total'), 0, `collections failed under the read-only role: ${stderr}`);
      const ratio = await eventually('the recording rule to be evaluated', () => valueOf('bmaas:fleet_heartbeat_ratio'));
      assert.ok(Math.abs(ratio - 3 / 9) < 1e-9, `ratio ${ratio}`);

      // Every query of the shipped dashboard is valid PromQL, and the stats panels have data.
      const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets ?? []) {
          const concrete = expr.replaceAll('$job', '.*').replaceAll('$__rate_interval', '1m');
          const samples = await prometheus.query(concrete, { signal });
          if (/bmdb_stats_|bmdb_hwstats_/.test(expr)) assert.ok(samples.length > 0, `dashboard panel ${panel.title}: ${concrete} has no data`);
        }
      }

      // One more heartbeating machine: the next collection and scrape show it.
      await bmdb.transact('unittest', async (q) => {
        const m = await q.newMachine();
        await q.addProvided({ machineId: m.machineId, provider: 'Equinix', providerId: 'late-1' });
        await q.setAgentHeartbeat({ machineId: m.machineId });
      });
      await eventually('the new heartbeat to reach Prometheus', async () => ((await valueOf('bmdb_stats_machines_heartbeating')) === 4 ? true : undefined));
      t.diagnostic(`Prometheus ${prometheus.url} scraped scruffy at ${address}`);

      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, `scruffy exit code after SIGTERM: ${stderr}`);
    });
  });
});
