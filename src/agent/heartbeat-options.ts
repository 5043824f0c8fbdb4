// The heartbeat loop's timing: its defaults and bounds, written once. The
// loop resolves its options through resolveHeartbeatTiming; the agent's flags
// take their defaults, bounds and help text from here.
import { checkDuration, type DurationBounds } from '../lib/duration.ts';

export interface HeartbeatTiming {
  /** Time between heartbeats. */
  readonly intervalMs: number;
  /** Timeout of one heartbeat call. */
  readonly callTimeoutMs: number;
  /** First retry delay after a failed heartbeat, doubling up to backoffMaxMs. */
  readonly backoffInitialMs: number;
  /** Longest retry delay. */
  readonly backoffMaxMs: number;
}

export const HEARTBEAT_DEFAULTS: HeartbeatTiming = Object.freeze({ intervalMs: 30_000, callTimeoutMs: 10_000, backoffInitialMs: 1_000, backoffMaxMs: 60_000 });

/** Inclusive bounds of each setting (all below Node's timer limit, so no wait overflows). */
export const HEARTBEAT_BOUNDS: { readonly [K in keyof HeartbeatTiming]: DurationBounds } = Object.freeze({
  intervalMs: Object.freeze({ minMs: 1, maxMs: 3_600_000 }),
  callTimeoutMs: Object.freeze({ minMs: 1, maxMs: 600_000 }),
  backoffInitialMs: Object.freeze({ minMs: 1, maxMs: 3_600_000 }),
  backoffMaxMs: Object.freeze({ minMs: 1, maxMs: 24 * 3_600_000 }),
});

/**
 * Fills in the defaults and checks the bounds.
 * @throws DurationRangeError naming the first setting outside its bounds.
 */
export function resolveHeartbeatTiming(given: Partial<HeartbeatTiming>): HeartbeatTiming {
  const resolved = { ...HEARTBEAT_DEFAULTS };
  for (const key of Object.keys(HEARTBEAT_BOUNDS) as Array<keyof HeartbeatTiming>) {
    const value = given[key];
    if (value !== undefined) resolved[key] = checkDuration(`heartbeat ${key}`, value, HEARTBEAT_BOUNDS[key]);
  }
  return Object.freeze(resolved);
}
