// /metrics of the long-running commands as an operator meets them: `bmaas
// shepherd` and `bmaas webug` with --metrics-listen-address, and `bmaas dev`
// (metrics on by default, scruffy embedded) scraped by a real Prometheus whose
// answer for the heartbeating count is what the BMDB holds.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openBmdb, type Bmdb } from '../src/bmdb/index.ts';
import { resolveDevTiming } from '../src/dev/index.ts';
import { spawnBmaas, type BmaasProcess } from '../src/shepherd/testing/index.ts';
import { createTestDatabase, describePostgres } from './pg.ts';
import { describePrometheus, eventually, startPrometheus } from './prometheus.ts';

/** The metrics URL a command printed on stdout. */
function printedMetricsUrl(p: BmaasProcess, name: string): Promise<string> {
  return eventually(`${name} to print its metrics URL`, () => {
    if (p.child.exitCode !== null) throw new Error(`${name} exited with ${p.child.exitCode}: ${p.stderr()}`);
    return Promise.resolve(/metrics on (http:\/\/\S+\/metrics)/.exec(p.stdout())?.[1]);
  }, 120_000);
}

/** The metric families a /metrics page declares (its `# TYPE` lines). */
async function families(url: string): Promise<Set<string>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const text = await res.text();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

function assertFamilies(have: Set<string>, want: readonly string[], what: string): void {
  const missing = want.filter((f) => !have.has(f));
  assert.deepEqual(missing, [], `${what} lacks ${missing.join(', ')}`);
}

const PROCESS_AND_BMDB = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'bmdb_session_started', 'bmdb_transaction_executed', 'bmdb_transaction_retried', 'bmdb_transaction_failed'];
const SHEPHERD = [
  'bmdb_work_started',
  'bmdb_work_finished',
  'bmaas_initializer_takeover_duration_seconds',
  'bmaas_recoverer_recoveries_total',
  'bmaas_recoverer_storm_paused',
  'bmaas_bmc_power_action_duration_seconds',
  'bmaas_controlloop_candidate_query_duration_seconds',
  'bmaas_controlloop_claim_conflicts_total',
];
const SERVER = ['bmsrv_calls_total', 'bmsrv_call_duration_seconds', 'bmsrv_heartbeats_total'];
const STATS = [
  'bmdb_stats_machines',
  'bmdb_stats_machines_provided',
  'bmdb_stats_machines_heartbeating',
  'bmdb_stats_machines_pending_installation',
  'bmdb_stats_machines_installed',
  'bmdb_stats_machines_pending_agent_start',
  'bmdb_stats_machines_pending_agent_recovery',
  'bmdb_stats_active_backoffs',
  'bmdb_stats_active_work',
  'bmdb_stats_sessions',
  'bmdb_stats_machines_state',
  'bmdb_stats_machines_stuck',
  'bmdb_stats_machines_quarantined',
  'bmdb_stats_storm_guard_paused',
  'bmdb_stats_machine_state_seconds',
  'bmdb_hwstats_region_nodes',
  'bmdb_hwstats_region_ram_bytes',
  'bmdb_hwstats_region_cpu_threads',
  'scruffy_collection_failures_total',
];

/** Stops a child with SIGTERM (SIGKILL after 20 s) and waits for it. */
async function stop(p: BmaasProcess): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

describePostgres('--metrics-listen-address on bmaas shepherd and bmaas webug', () => {
  it('each serves its families on the printed URL', async () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    });
    const db = await createTestDatabase({ signal: AbortSignal.timeout(60_000) });
    cleanups.push(() => db.drop());
    const dir = await mkdtemp(join(tmpdir(), 'bmaas-metrics-flag-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'agent'), '#!/bin/sh\n', { mode: 0o755 });
    // One machine nobody answers for, with a BMC nobody answers for either: the recoverer runs.
    const bmc = { Driver: 'redfish', Endpoint: 'https://127.0.0.1:1', Username: 'admin', PasswordEnv: 'BMAAS_TEST_BMC_PASSWORD' };
    await writeFile(join(dir, 'devices.json'), JSON.stringify([{ ID: 'm1', Addr: '127.0.0.1:1', BMC: bmc }]));

    const shepherd = spawnBmaas(
      [
        'shepherd', '--provider', 'mini', '--mini-device-list', join(dir, 'devices.json'), '--bmdb-url', db.url,
        '--agent-executable-path', join(dir, 'agent'), '--agent-endpoint', '127.0.0.1:4433', '--ssh-user', 'root', '--ssh-key-path', join(dir, 'id_ed25519'),
        '--metrics-listen-address', '127.0.0.1:0', '--log-level', 'warn',
      ],
      { BMAAS_TEST_BMC_PASSWORD: 'secret' },
    );
    cleanups.push(() => stop(shepherd));
    const shepherdUrl = await printedMetricsUrl(shepherd, 'bmaas shepherd');
    // The shepherd migrated the BMDB; webug only reads it.
    const webug = spawnBmaas(['webug', '--bmdb-url', db.url, '--listen-address', '127.0.0.1:0', '--metrics-listen-address', '127.0.0.1:0', '--log-level', 'warn']);
    cleanups.push(() => stop(webug));
    const webugUrl = await printedMetricsUrl(webug, 'bmaas webug');

    assertFamilies(await families(shepherdUrl), [...PROCESS_AND_BMDB, ...SHEPHERD], 'bmaas shepherd');
    // The loops count into the served registry: a session, candidate queries.
    const ran = /^bmaas_controlloop_candidate_query_duration_seconds_count\{loop="initializer",result="\w+"\} [1-9]/m;
    const text = await eventually('the initializer to have queried for candidates', async () => {
      const body = await (await fetch(shepherdUrl)).text();
      return ran.test(body) ? body : undefined;
    });
    assert.match(text, /^bmdb_session_started\{processor="shepherd-initializer"\} [1-9]/m);
    assertFamilies(await families(webugUrl), PROCESS_AND_BMDB, 'bmaas webug');

    assert.equal(await stop(webug), 0, webug.stderr());
    assert.equal(await stop(shepherd), 0, shepherd.stderr());
    // The metrics server is gone with the command.
    await assert.rejects(fetch(shepherdUrl, { signal: AbortSignal.timeout(5_000) }));
  });
});

describePrometheus('Prometheus scrapes bmaas dev', () => {
  describePostgres('bmaas dev on PostgreSQL, scraped by a real Prometheus', () => {
    it('serves every family on the printed URL, and PromQL gives the heartbeating count the BMDB holds', async (t) => {
      const signal = AbortSignal.timeout(280_000);
      const cleanups: Array<() => Promise<unknown>> = [];
      after(async () => {
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      });
      const db = await createTestDatabase({ signal });
      cleanups.push(() => db.drop());
      const dir = await mkdtemp(join(tmpdir(), 'bmaas-dev-metrics-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const machines = 4;
      const dev = spawnBmaas([
        'dev', '--data-dir', dir, '--bmdb-url', db.url, '--machines', String(machines), '--no-faults',
        '--webug-listen-address', 'off', '--metrics-listen-address', '127.0.0.1:0', '--log-level', 'warn',
      ]);
      cleanups.push(() => stop(dev));
      const url = await printedMetricsUrl(dev, 'bmaas dev');
      const target = new URL(url).host;

      await using prometheus = await startPrometheus({ targets: [target], signal });
      const valueOf = async (expr: string): Promise<number | undefined> => (await prometheus.query(expr, { signal }))[0]?.value;
      const bmdb: Bmdb = await openBmdb({ url: db.url, migrate: false, signal });
      cleanups.push(() => bmdb.close());
      const thresholds = resolveDevTiming({ machines }).recovery;

      // The healthy fleet converges: every machine heartbeats, and Prometheus and the BMDB agree on it.
      await eventually('Prometheus to see the whole fleet heartbeating', async () => ((await valueOf('bmdb_stats_machines_heartbeating{job="bmaas"}')) === machines ? true : undefined), 240_000);
      assert.equal(await bmdb.queries.countMachinesHeartbeating({ thresholds }), machines);
      assert.equal(await valueOf('bmdb_stats_machines_state{state="heartbeating"}'), machines);
      assert.equal(await valueOf('sum(bmdb_stats_machines_stuck)'), 0);
      assert.equal(await valueOf('sum(bmdb_stats_storm_guard_paused)'), 0);
      assert.ok((await valueOf('sum(bmsrv_heartbeats_total{result="accepted"})'))! > 0);
      assert.equal(await valueOf('sum(bmaas_initializer_takeover_duration_seconds_count{result="success"})'), machines);

      assertFamilies(await families(url), [...PROCESS_AND_BMDB, ...SHEPHERD, ...SERVER, ...STATS], 'bmaas dev');
      t.diagnostic(`Prometheus ${prometheus.url} scraped bmaas dev at ${target}`);
      assert.equal(await stop(dev), 0, dev.stderr());
    });
  });
});
