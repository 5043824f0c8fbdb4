// Test fixtures of the stats exporter: the original's nine-machine fleet and a
// reader of gauge values. (The row writers are webug's seed helpers.)
import assert from 'node:assert/strict';
import type { Registry } from 'prom-client';
import type { Queryable } from '../../bmdb/index.ts';
import { seedMachine } from '../../webug/testing/seed.ts';

/** What the exporter must report for `seedNineMachines` (the original's scruffy test). */
export const NINE_MACHINES_EXPECTED = Object.freeze({
  bmdb_stats_machines: 9,
  bmdb_stats_machines_provided: 9,
  bmdb_stats_machines_heartbeating: 3,
  bmdb_stats_machines_pending_installation: 3,
  bmdb_stats_machines_installed: 1,
  bmdb_stats_machines_pending_agent_start: 1,
  bmdb_stats_machines_pending_agent_recovery: 4,
});

/**
 * Nine provided machines, one or more per count (default thresholds: 30 min
 * to a first heartbeat, 10 min of silence):
 * fresh (agent start) · agent just started · heartbeating with a pending request ·
 * heartbeating, request of a newer generation than the report (pending) ·
 * heartbeating and installed · started an hour ago without a heartbeat (recovery) ·
 * silent for an hour (recovery) · silent with a pending request (recovery) ·
 * silent after a failed installation (recovery).
 */
export async function seedNineMachines(db: Queryable): Promise<void> {
  const fresh = 5;
  const silent = 3600;
  await seedMachine(db, { location: 'da11' });
  await seedMachine(db, { agentStartedSecondsAgo: 60 });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: fresh, installRequestGeneration: 1 });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: fresh, installRequestGeneration: 2, installReport: { generation: 1, result: 'Success' } });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: fresh, installRequestGeneration: 1, installReport: { generation: 1, result: 'Success' } });
  await seedMachine(db, { agentStartedSecondsAgo: 3600 });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: silent });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: silent, installRequestGeneration: 1 });
  await seedMachine(db, { agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: silent, installRequestGeneration: 1, installReport: { generation: 1, result: 'Error' } });
}

/** The series of a metric as `labels json → value`, e.g. `{"process":"ShepherdRecovery"}` → 2 ('' for no labels). */
export async function seriesOf(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `metric ${name} is registered`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const labels = Object.keys(v.labels).length ? JSON.stringify(Object.fromEntries(Object.entries(v.labels).sort())) : '';
    out[labels] = v.value;
  }
  return out;
}

/** The value of an unlabelled metric. */
export async function valueOf(registry: Registry, name: string): Promise<number | undefined> {
  return (await seriesOf(registry, name))[''];
}
