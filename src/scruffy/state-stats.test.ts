import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import { DERIVED_MACHINE_STATES, SHEPHERD_ACTOR, type Bmdb, type DerivedMachineState } from '../bmdb/index.ts';
import { seedBackoff, seedMachine } from '../webug/testing/seed.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { ScruffyExporter } from './index.ts';
import { seriesOf, valueOf } from './testing/fleet.ts';

const byState = (counts: Partial<Record<DerivedMachineState, number>>) =>
  Object.fromEntries(DERIVED_MACHINE_STATES.map((state) => [JSON.stringify({ state }), counts[state] ?? 0]));

/** Cumulative bucket counts of one state's time-in-state histogram, as `le → count`. */
async function buckets(registry: Registry, state: DerivedMachineState): Promise<Record<string, number>> {
  const values = (await registry.getSingleMetric('bmdb_stats_machine_state_seconds')!.get()).values;
  const out: Record<string, number> = {};
  for (const v of values) {
    if (v.labels.state === state && (v as { metricName?: string }).metricName === 'bmdb_stats_machine_state_seconds_bucket') out[String(v.labels.le)] = v.value;
  }
  return out;
}

describeBmdb('scruffy state gauges', ({ open }) => {
  it('counts machines per derived state, stuck and quarantined machines, the storm guard and time in state', async () => {
    const bmdb: Bmdb = await open();
    await bmdb.transact('unittest', async (q) => {
      await seedMachine(q.db); // awaiting agent start, entered just now
      await seedMachine(q.db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: 5 }); // heartbeating for two hours
      await seedMachine(q.db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: 3600 }); // silent for an hour: under the 2 h limit
      await seedMachine(q.db, { agentStartedSecondsAgo: 4 * 3600, heartbeatSecondsAgo: 3 * 3600 }); // silent for 3 h: stuck
      const backingOff = await seedMachine(q.db);
      await seedBackoff(q.db, { machineId: backingOff, process: 'ShepherdAgentStart', untilInSeconds: 600, cause: 'ssh refused' });
      const quarantined = await seedMachine(q.db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: 3600 });
      await q.quarantineMachine({ machineId: quarantined, reason: 'test', by: SHEPHERD_ACTOR });
    });
    const registry = new Registry();
    const scruffy = new ScruffyExporter(bmdb, { registry });
    // Before the first round every series exists at 0.
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_machines_stuck'), byState({}));
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_storm_guard_paused'), { [JSON.stringify({ reason: 'none' })]: 0 });

    assert.equal(await scruffy.collectOnce(), true);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_machines_state'), byState({ 'awaiting-agent-start': 1, heartbeating: 1, silent: 2, 'backing-off': 1, quarantined: 1 }));
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_machines_stuck'), byState({ silent: 1 }));
    assert.equal(await valueOf(registry, 'bmdb_stats_machines_quarantined'), 1);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_storm_guard_paused'), { [JSON.stringify({ reason: 'none' })]: 0 });
    // Ages: silent 1 h and 3 h, heartbeating 2 h (since its agent start), awaiting a few seconds.
    const silent = await buckets(registry, 'silent');
    assert.deepEqual([silent['1800'], silent['7200'], silent['21600'], silent['+Inf']], [0, 1, 2, 2]);
    const heartbeating = await buckets(registry, 'heartbeating');
    assert.deepEqual([heartbeating['3600'], heartbeating['21600']], [0, 1]);
    assert.equal((await buckets(registry, 'awaiting-agent-start'))['60'], 1);
    assert.equal((await buckets(registry, 'recovering'))['+Inf'], 0, 'a state without machines has an empty histogram');

    // A storm pause: the silent machines are paused, and the gauge says why. A round replaces the last one.
    await bmdb.transact('unittest', (q) => q.setStormGuard({ reason: 'mass-silence', storm: true }));
    assert.equal(await scruffy.collectOnce(), true);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_storm_guard_paused'), { [JSON.stringify({ reason: 'mass-silence' })]: 1 });
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_machines_state'), byState({ 'awaiting-agent-start': 1, heartbeating: 1, paused: 2, 'backing-off': 1, quarantined: 1 }));
    assert.equal((await buckets(registry, 'silent'))['+Inf'], 0);
    assert.equal((await buckets(registry, 'paused'))['+Inf'], 2);

    await bmdb.transact('unittest', (q) => q.setStormGuard({ reason: null, storm: false }));
    assert.equal(await scruffy.collectOnce(), true);
    assert.deepEqual(await seriesOf(registry, 'bmdb_stats_storm_guard_paused'), { [JSON.stringify({ reason: 'none' })]: 0 });
  });
});
