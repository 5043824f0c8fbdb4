// The derived machine states (docs/architecture.md#stuck-machines), read with
// the BMDB's own state and stuck queries, never re-derived here:
//   bmdb_stats_machines_state{state}            provided machines per state
//   bmdb_stats_machines_stuck{state}            of those, in the state for longer than its limit
//   bmdb_stats_machines_quarantined             quarantined machines
//   bmdb_stats_storm_guard_paused{reason}       1 while the shared storm guard pauses recovery
//   bmdb_stats_machine_state_seconds{state}     how long each machine has been in its state
// The last one is a snapshot histogram: every round replaces its buckets with
// the fleet as it is now (it is not cumulative, so use it without rate()).
import { Gauge, Histogram } from 'prom-client';
import { DERIVED_MACHINE_STATES } from '../bmdb/index.ts';
import type { StatsCollectorFactory } from './collector.ts';

/** From ten seconds to a week: a healthy fleet sits in the low buckets of its states, a stuck one in the high ones. */
export const TIME_IN_STATE_BUCKETS: readonly number[] = Object.freeze([10, 30, 60, 300, 600, 1800, 3600, 7200, 21_600, 86_400, 259_200, 604_800]);

/** The reason label while recovery is not paused. */
export const NOT_PAUSED = 'none';

export const stateStatsCollector: StatsCollectorFactory = (registry, options) => {
  const registers = [registry];
  const perState = new Gauge({ name: 'bmdb_stats_machines_state', help: 'provided machines, by derived state', labelNames: ['state'], registers });
  const stuck = new Gauge({ name: 'bmdb_stats_machines_stuck', help: 'provided machines in their state for longer than its stuck limit, by state', labelNames: ['state'], registers });
  const quarantined = new Gauge({ name: 'bmdb_stats_machines_quarantined', help: 'machines in quarantine (they wait for an operator)', registers });
  const paused = new Gauge({
    name: 'bmdb_stats_storm_guard_paused',
    help: `1 while the storm guard (shared by every shepherd) pauses recovery, labelled with its reason; 0 with reason="${NOT_PAUSED}" otherwise`,
    labelNames: ['reason'],
    registers,
  });
  const timeInState = new Histogram({
    name: 'bmdb_stats_machine_state_seconds',
    help: 'how long each provided machine has been in its derived state, by state (a snapshot of the fleet each collection, not cumulative)',
    labelNames: ['state'],
    buckets: [...TIME_IN_STATE_BUCKETS],
    registers,
  });
  const zeroHistogram = () => {
    timeInState.reset();
    for (const state of DERIVED_MACHINE_STATES) timeInState.zero({ state });
  };
  for (const state of DERIVED_MACHINE_STATES) {
    perState.set({ state }, 0);
    stuck.set({ state }, 0);
  }
  quarantined.set(0);
  paused.set({ reason: NOT_PAUSED }, 0);
  zeroHistogram();
  const thresholds = options.recoveryThresholds;
  const limits = options.stuckLimits;

  return {
    name: 'state stats',
    async collect({ read, signal }) {
      const o = { signal };
      const r = await read(
        async (q) => ({
          counts: await q.countMachinesByState({ thresholds, limits }, o),
          states: await q.getDerivedStates({ thresholds }, o),
          quarantined: await q.countMachinesQuarantined(o),
          guard: await q.getStormGuard(o),
          // The database's clock, the one `since` was stamped with.
          now: (await q.db.query('SELECT now() AS now', [], o)).rows[0]!.now as Date,
        }),
        o,
      );
      return () => {
        for (const state of DERIVED_MACHINE_STATES) {
          perState.set({ state }, r.counts[state].machines);
          stuck.set({ state }, r.counts[state].stuck);
        }
        quarantined.set(r.quarantined);
        paused.reset();
        paused.set({ reason: r.guard.reason ?? NOT_PAUSED }, r.guard.reason === null ? 0 : 1);
        zeroHistogram();
        const now = r.now.getTime();
        for (const m of r.states) timeInState.observe({ state: m.state }, Math.max(0, (now - m.since.getTime()) / 1000));
      };
    },
  };
};
