// bmaas_bmc_power_action_duration_seconds{driver,action,result}: how long a
// checked power action (request and confirmation) took, by BMC driver
// (redfish, ipmi), action (the reboot step) and result. Every label has a
// fixed set of values.
import { Histogram } from 'prom-client';
import { perRegistry } from '../../lib/per-registry.ts';
import { BmcAuthError, BmcConnectionError, BmcHttpError, PowerActionNotConfirmedError, PowerStateUnreadableError, ResetTypeNotAllowedError } from './errors.ts';
import { PowerStateInTransitionError } from './checked-power.ts';
import type { BmcOptions } from './types.ts';

export type PowerDriverLabel = BmcOptions['driver'];

export interface PowerMetrics {
  readonly duration: Histogram<'driver' | 'action' | 'result'>;
}

// A failure's class as a short label; anything else is `error`.
const RESULTS: ReadonlyArray<readonly [new (...args: never[]) => Error, string]> = [
  [PowerActionNotConfirmedError, 'not-confirmed'],
  [PowerStateUnreadableError, 'unreadable'],
  [PowerStateInTransitionError, 'in-transition'],
  [ResetTypeNotAllowedError, 'not-allowed'],
  [BmcAuthError, 'auth'],
  [BmcConnectionError, 'connection'],
  [BmcHttpError, 'http'],
];

/** The result label of a failed power action. */
export function powerResultLabel(err: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return 'aborted';
  return RESULTS.find(([cls]) => err instanceof cls)?.[1] ?? 'error';
}

/** The power metrics of `registry`, registered on first use (one set per registry). */
export const powerMetrics = perRegistry((registry): PowerMetrics => {
  const metrics: PowerMetrics = {
    duration: new Histogram({
      name: 'bmaas_bmc_power_action_duration_seconds',
      help: 'BMC power actions from the request until the BMC showed their effect, by driver, action (reboot step) and result',
      labelNames: ['driver', 'action', 'result'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
  };
  return metrics;
});

/** Runs `action`, observing its duration and result (ok or the failure's label); rethrows. */
export async function timePowerAction<T>(
  metrics: PowerMetrics | undefined,
  labels: { driver: PowerDriverLabel; action: string },
  action: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const started = performance.now();
  let result = 'ok';
  try {
    return await action();
  } catch (err) {
    result = powerResultLabel(err, signal);
    throw err;
  } finally {
    metrics?.duration.observe({ ...labels, result }, (performance.now() - started) / 1000);
  }
}
