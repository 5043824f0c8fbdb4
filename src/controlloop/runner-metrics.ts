// The control loop runner's metrics: how long a loop's candidate query takes
// (inside the claiming transaction) and how often a claim lost the race for a
// machine to another worker or shepherd. `loop` is the loop's name.
import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../lib/per-registry.ts';

export interface RunnerMetrics {
  /** result: found (a machine was returned), none, error. */
  readonly candidateQuery: Histogram<'loop' | 'result'>;
  readonly claimConflicts: Counter<'loop'>;
}

/** The runner metrics of `registry`, registered on first use (the loops of one process share them). */
export const runnerMetrics = perRegistry((registry): RunnerMetrics => {
  const registers = [registry];
  const metrics: RunnerMetrics = {
    candidateQuery: new Histogram({
      name: 'bmaas_controlloop_candidate_query_duration_seconds',
      help: 'candidate queries of a control loop (run while claiming), by loop and result (found, none, error)',
      labelNames: ['loop', 'result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    claimConflicts: new Counter({
      name: 'bmaas_controlloop_claim_conflicts_total',
      help: 'claims that lost the race for a machine to another worker or instance, by loop',
      labelNames: ['loop'],
      registers,
    }),
  };
  return metrics;
});
