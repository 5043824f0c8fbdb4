// The shepherd's own metrics (the storm guard has its own file):
//   bmaas_initializer_takeover_duration_seconds{result}  agent starts over SSH: success or failure
//   bmaas_recoverer_recoveries_total{outcome,step}       recoveries: rebooted, failed or quarantined,
//                                                        by escalation step (0 graceful … 2 power cycle; none for a quarantine)
import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../lib/per-registry.ts';

export interface ShepherdMetrics {
  readonly takeover: Histogram<'result'>;
  readonly recoveries: Counter<'outcome' | 'step'>;
}

export type TakeoverResultLabel = 'success' | 'failure' | 'aborted';
export type RecoveryOutcome = 'rebooted' | 'failed' | 'quarantined' | 'aborted';

/** The escalation steps as labels: 0, 1, then everything harder is `2+` (the BMC power cycles from step 2 on). */
export function stepLabel(step: number): string {
  return step >= 2 ? '2+' : String(Math.max(0, step));
}

export const shepherdMetrics = perRegistry((registry): ShepherdMetrics => {
  const registers = [registry];
  const metrics: ShepherdMetrics = {
    takeover: new Histogram({
      name: 'bmaas_initializer_takeover_duration_seconds',
      help: 'agent takeovers (SSH connect, upload, run, response) by result: success, failure, aborted',
      labelNames: ['result'],
      buckets: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
      registers,
    }),
    recoveries: new Counter({
      name: 'bmaas_recoverer_recoveries_total',
      help: 'recoveries of silent machines by outcome (rebooted, failed, quarantined, aborted) and escalation step (0, 1, 2+; none for a quarantine)',
      labelNames: ['outcome', 'step'],
      registers,
    }),
  };
  for (const result of ['success', 'failure'] as const) metrics.takeover.zero({ result });
  for (const outcome of ['rebooted', 'failed'] as const) for (const step of ['0', '1', '2+']) metrics.recoveries.inc({ outcome, step }, 0);
  metrics.recoveries.inc({ outcome: 'quarantined', step: 'none' }, 0);
  return metrics;
});
