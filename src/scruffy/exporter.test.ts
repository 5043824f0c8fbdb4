import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PROCESSES, type Bmdb, type Queryable } from '../bmdb/index.ts';
import { AgentHardwareReportSchema, encodeMessage } from '../proto/index.ts';
import { seedBackoff, seedMachine, seedSession, seedWork } from '../webug/testing/seed.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { readOnly, resolveScruffyOptions, ScruffyExporter, ScruffyOptionsError, ScruffyStateError, type ScruffyOptions } from './index.ts';
import { NINE_MACHINES_EXPECTED, seedNineMachines, seriesOf, valueOf } from './testing/fleet.ts';

function exporter(bmdb: Bmdb, opts: Partial<ScruffyOptions> = {}): { registry: Registry; scruffy: ScruffyExporter } {
  const registry = new Registry();
  return { registry, scruffy: new ScruffyExporter(bmdb, { registry, ...opts }) };
}

async function seed(bmdb: Bmdb, fn: (db: Queryable) => Promise<unknown>): Promise<void> {
  await bmdb.transact('unittest', (q) => fn(q.db));
}

const byProcess = (counts: Partial<Record<(typeof PROCESSES)[number], number>>) =>
  Object.fromEntries(PROCESSES.map((p) => [JSON.stringify({ process: p }), counts[p] ?? 0]));

function hardware(ramGiB: number, threads: number[]): Uint8Array {
  return encodeMessage(AgentHardwareReportSchema, {
    report: { memoryInstalledBytes: BigInt(ramGiB) * 1024n ** 3n, cpu: threads.map((t) => ({ cores: t / 2, hardwareThreads: t })) },
  });
}

const region = (provider: string, location: string) => JSON.stringify({ location, provider });

describeBmdb('scruffy stats exporter', ({ open }) => {
  it('counts the original test fleet: 9 machines, 3 heartbeating, 3 pending installation, 1 installed, 1 pending agent start, 4 pending recovery', async () => {
    const bmdb = await open();
    await seed(bmdb, seedNineMachines);
    const { registry, scruffy } = exporter(bmdb);
    assert.equal(await scruffy.collectOnce(), true);
    for (const [name, want] of Object.entries(NINE_MACHINES_EXPECTED)) assert.equal(await valueOf(registry, name), want, name);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_active_backoffs'), byProcess({}));
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_active_work'), byProcess({}));
    assert.ok((await valueOf(registry, 'scruffy_last_successful_collection_timestamp_seconds'))! > Date.now() / 1000 - 60);
  });

  it('uses the recovery thresholds it is given for heartbeating and pending recovery', async () => {
    const bmdb = await open();
    await seed(bmdb, seedNineMachines);
    // With 2 h of allowed silence nothing is silent; the one started an hour ago is not late either.
    const { registry, scruffy } = exporter(bmdb, { recoveryThresholds: { silenceSeconds: 7200, noHeartbeatAfterStartSeconds: 7200 } });
    assert.equal(await scruffy.collectOnce(), true);
    assert.equal(await valueOf(registry, 'bmdb_stats_machines_heartbeating'), 6);
    assert.equal(await valueOf(registry, 'bmdb_stats_machines_pending_agent_recovery'), 0);
  });

  it('labels every process, counts only unexpired backoffs, and counts held work per process', async () => {
    const bmdb = await open();
    await seed(bmdb, async (db) => {
      const [a, b, c] = [await seedMachine(db), await seedMachine(db), await seedMachine(db)];
      await seedBackoff(db, { machineId: a, process: 'ShepherdAgentStart', untilInSeconds: 600, cause: 'ssh refused' });
      await seedBackoff(db, { machineId: b, process: 'ShepherdAgentStart', untilInSeconds: 600, cause: 'ssh refused' });
      await seedBackoff(db, { machineId: c, process: 'ShepherdRecovery', untilInSeconds: -600, cause: 'expired, so history' });
      const session = await seedSession(db, { component: 'shepherd-initializer' });
      await seedWork(db, { machineId: c, sessionId: session, process: 'ShepherdAgentStart' });
      await seedWork(db, { machineId: a, sessionId: session, process: 'UnitTest1' });
    });
    const { registry, scruffy } = exporter(bmdb);
    assert.equal(await scruffy.collectOnce(), true);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_active_backoffs'), byProcess({ ShepherdAgentStart: 2 }));
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_active_work'), byProcess({ ShepherdAgentStart: 1, UnitTest1: 1 }));
  });

  it('counts live sessions per component; a component whose sessions died stays at 0', async () => {
    const bmdb = await open();
    await seed(bmdb, async (db) => {
      await seedSession(db, { component: 'bmsrv' });
      await seedSession(db, { component: 'bmsrv' });
      await seedSession(db, { component: 'shepherd-recoverer', deadlineInSeconds: -30 });
      await seedSession(db, { component: 'custom-tool' });
    });
    const { registry, scruffy } = exporter(bmdb, { sessionComponents: ['bmsrv', 'shepherd-recoverer'] });
    assert.equal(await scruffy.collectOnce(), true);
    const c = (component: string) => JSON.stringify({ component });
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_sessions'), { [c('bmsrv')]: 2, [c('shepherd-recoverer')]: 0, [c('custom-tool')]: 1 });
    await seed(bmdb, (db) => db.query(`UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_component_name = 'custom-tool'`));
    assert.equal(await scruffy.collectOnce(), true);
    assert.equal((await seriesOf(registry, 'bmdb_stats_sessions'))[c('custom-tool')], 0);
  });

  it('sums hardware per provider and location, skipping undecodable, empty and unprovided reports', async () => {
    const bmdb = await open();
    await seed(bmdb, async (db) => {
      const put = async (raw: Uint8Array, m: Parameters<typeof seedMachine>[1]) => {
        const id = await seedMachine(db, m);
        await db.query('INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) VALUES ($1, $2)', [id, raw]);
      };
      await put(hardware(64, [16, 16]), { location: 'da11' });
      await put(hardware(128, [32]), { location: 'da11' });
      await put(hardware(256, [64]), { provider: 'Lumen', location: 'den1' });
      await put(hardware(8, [4]), { provider: 'Sim' }); // no location
      for (let i = 0; i < 5; i++) await put(new Uint8Array([0xff, 0xff, 0xff]), { location: 'da11' });
      await put(new Uint8Array(), { location: 'da11' }); // decodes, but has no node
      await put(hardware(32, [8]), { provider: null }); // not provided: in no region
    });
    // Page size 1: every undecodable report is a page of skipped rows on its own.
    for (const hardwarePageSize of [1, 2, 100]) {
      const { registry, scruffy } = exporter(bmdb, { hardwarePageSize });
      assert.equal(await scruffy.collectOnce({ signal: AbortSignal.timeout(60_000) }), true, `page size ${hardwarePageSize}`);
      const gib = 1024 ** 3;
      assert.deepEqual(await seriesOf(registry, 'bmdb_hwstats_region_nodes'), { [region('Equinix', 'da11')]: 2, [region('Lumen', 'den1')]: 1, [region('Sim', '')]: 1 });
      assert.deepEqual(await seriesOf(registry, 'bmdb_hwstats_region_ram_bytes'), { [region('Equinix', 'da11')]: 192 * gib, [region('Lumen', 'den1')]: 256 * gib, [region('Sim', '')]: 8 * gib });
      assert.deepEqual(await seriesOf(registry, 'bmdb_hwstats_region_cpu_threads'), { [region('Equinix', 'da11')]: 64, [region('Lumen', 'den1')]: 64, [region('Sim', '')]: 4 });
      assert.equal(await valueOf(registry, 'bmdb_hwstats_reports_skipped'), 7);
    }
  });

  it('removes a region whose last node went away', async () => {
    const bmdb = await open();
    let gone = '';
    await seed(bmdb, async (db) => {
      const keep = await seedMachine(db, { location: 'da11' });
      gone = await seedMachine(db, { location: 'ny5' });
      for (const id of [keep, gone]) await db.query('INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) VALUES ($1, $2)', [id, hardware(16, [8])]);
    });
    const { registry, scruffy } = exporter(bmdb);
    assert.equal(await scruffy.collectOnce(), true);
    assert.deepEqual(Object.keys(await seriesOf(registry, 'bmdb_hwstats_region_nodes')).sort(), [region('Equinix', 'da11'), region('Equinix', 'ny5')]);
    await seed(bmdb, (db) => db.query('DELETE FROM machine_provided WHERE machine_id = $1', [gone]));
    assert.equal(await scruffy.collectOnce(), true);
    for (const name of ['bmdb_hwstats_region_nodes', 'bmdb_hwstats_region_ram_bytes', 'bmdb_hwstats_region_cpu_threads']) {
      assert.deepEqual(Object.keys(await seriesOf(registry, name)), [region('Equinix', 'da11')], name);
    }
  });

  it('keeps the last values when a collection fails, counts each failure and logs once per outage', async () => {
    const bmdb = await open();
    await seed(bmdb, seedNineMachines);
    const logs: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) });
    const { registry, scruffy } = exporter(bmdb, { logger });
    assert.equal(await scruffy.collectOnce(), true);
    const lastSuccess = await valueOf(registry, 'scruffy_last_successful_collection_timestamp_seconds');
    // The hardware query fails after the machine counts succeeded: nothing of the round may be applied.
    await seed(bmdb, async (db) => {
      await seedMachine(db, { agentStartedSecondsAgo: 60, heartbeatSecondsAgo: 1 });
      await db.query('ALTER TABLE machine_hardware_report RENAME TO machine_hardware_report_away');
    });
    assert.equal(await scruffy.collectOnce(), false);
    assert.equal(await scruffy.collectOnce(), false);
    assert.equal(await valueOf(registry, 'scruffy_collection_failures_total'), 2);
    for (const [name, want] of Object.entries(NINE_MACHINES_EXPECTED)) assert.equal(await valueOf(registry, name), want, name);
    assert.equal(await valueOf(registry, 'scruffy_last_successful_collection_timestamp_seconds'), lastSuccess);
    assert.equal(logs.filter((l) => l.level >= 50).length, 1, 'one error line per outage');

    await seed(bmdb, (db) => db.query('ALTER TABLE machine_hardware_report_away RENAME TO machine_hardware_report'));
    assert.equal(await scruffy.collectOnce(), true);
    assert.equal(await valueOf(registry, 'bmdb_stats_machines'), 10);
    assert.equal(await valueOf(registry, 'bmdb_stats_machines_heartbeating'), 4);
    assert.ok(logs.some((l) => l.msg === 'stats collection succeeded again'));
  });

  it('reads in read-only transactions, which refuse a write', async () => {
    const bmdb = await open();
    await seed(bmdb, seedNineMachines);
    await assert.rejects(readOnly(bmdb)((q) => q.db.query('DELETE FROM machines'), { signal: AbortSignal.timeout(10_000) }), /read-only/);
  });
});

describeBmdb('scruffy exporter lifecycle', ({ open }) => {
  it('runs rounds on its interval from start() and stops in two stages', async () => {
    const bmdb = await open();
    await seed(bmdb, seedNineMachines);
    const { registry, scruffy } = exporter(bmdb, { collectionIntervalMs: 100 });
    assert.equal(scruffy.state, 'created');
    scruffy.start();
    assert.equal(scruffy.state, 'running');
    assert.throws(() => scruffy.start(), ScruffyStateError);
    const deadline = Date.now() + 30_000;
    while ((await valueOf(registry, 'bmdb_stats_machines')) !== 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await seed(bmdb, (db) => seedMachine(db));
    while ((await valueOf(registry, 'bmdb_stats_machines')) !== 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await valueOf(registry, 'bmdb_stats_machines'), 10, 'a later round saw the new machine');
    const stopping = scruffy.stop({ graceMs: 5000 });
    assert.equal(scruffy.state, 'stopping');
    await stopping;
    assert.equal(scruffy.state, 'stopped');
    assert.equal(await valueOf(registry, 'scruffy_collection_failures_total'), 0);
  });

  it('aborts the round in flight when the grace is over, without counting it as a failure', async () => {
    const bmdb = await open();
    // A collector that waits for its signal stands for a query stuck on a dead connection.
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const registry = new Registry();
    const scruffy = new ScruffyExporter(bmdb, {
      registry,
      collectors: [
        () => ({
          name: 'stuck',
          collect: ({ signal }) =>
            new Promise((_, reject) => {
              started();
              signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
            }),
        }),
      ],
    });
    scruffy.start();
    await inFlight;
    const t0 = Date.now();
    await scruffy.stop({ graceMs: 200 });
    assert.ok(Date.now() - t0 >= 150, 'waited for the grace');
    assert.equal(scruffy.state, 'stopped');
    assert.equal(await valueOf(registry, 'scruffy_collection_failures_total'), 0);
  });
});

it('resolveScruffyOptions fills the defaults once and rejects bad values', () => {
  const registry = new Registry();
  const o = resolveScruffyOptions({ registry });
  assert.equal(o.collectionIntervalMs, 60_000);
  assert.equal(o.hardwarePageSize, 100);
  assert.deepEqual(o.recoveryThresholds, { noHeartbeatAfterStartSeconds: 1800, silenceSeconds: 600 });
  assert.ok(Object.isFrozen(o));
  assert.throws(() => resolveScruffyOptions({ registry, collectionIntervalMs: 0 }), ScruffyOptionsError);
  assert.throws(() => resolveScruffyOptions({ registry, hardwarePageSize: 1.5 }), /hardwarePageSize/);
  assert.throws(() => resolveScruffyOptions({ registry, recoveryThresholds: { silenceSeconds: 0, noHeartbeatAfterStartSeconds: 60 } }), /silenceSeconds/);
});
