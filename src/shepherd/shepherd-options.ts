// The shepherd's defaults and bounds in one place: the provisioner's,
// initializer's and recoverer's own defaults gathered with the limits every
// setting must respect. runShepherd checks its options against them once, and
// `bmaas shepherd` takes its flag defaults, bounds and help text from them.
import { DEFAULT_RECOVERY_THRESHOLDS, type Backoff } from '../bmdb/index.ts';
import { checkDuration, type DurationBounds } from '../lib/duration.ts';
import type { RateLimit } from '../lib/rate.ts';
import { INITIALIZER_BACKOFF, INITIALIZER_DEFAULTS } from './initializer.ts';
import { PROVISIONER_DEFAULTS } from './provisioner.ts';
import { RECOVERER_BACKOFF, RECOVERER_MAX_ATTEMPTS } from './recoverer.ts';
import type { ShepherdOptions } from './shepherd.ts';
import { STORM_GUARD_DEFAULTS } from './storm-guard.ts';

/** Inclusive bounds of a count. */
export interface CountBounds {
  readonly min: number;
  readonly max: number;
}

/** The candidate query rate of each shepherd loop (`250ms,8`). */
export const DEFAULT_DB_QUERY_RATE: RateLimit = Object.freeze({ intervalMs: 250, burst: 8 });

export const SHEPHERD_DEFAULTS = Object.freeze({
  provisioner: PROVISIONER_DEFAULTS,
  initializer: INITIALIZER_DEFAULTS,
  initializerBackoff: INITIALIZER_BACKOFF,
  recovererBackoff: RECOVERER_BACKOFF,
  recoveryThresholds: DEFAULT_RECOVERY_THRESHOLDS,
  recovererMaxAttempts: RECOVERER_MAX_ATTEMPTS,
  stormGuard: STORM_GUARD_DEFAULTS,
  dbQueryRate: DEFAULT_DB_QUERY_RATE,
  parallelism: 1,
  shutdownGraceMs: 10_000,
});

export const SHEPHERD_BOUNDS = Object.freeze({
  /** 0 means no limit. */
  maxCount: Object.freeze({ min: 0, max: 1_000_000 }) as CountBounds,
  chunkSize: Object.freeze({ min: 1, max: 10_000 }) as CountBounds,
  /** Workers per loop: each holds work (and SSH sessions) at once. */
  parallelism: Object.freeze({ min: 1, max: 1000 }) as CountBounds,
  connectTimeoutMs: Object.freeze({ minMs: 1, maxMs: 600_000 }) as DurationBounds,
  execTimeoutMs: Object.freeze({ minMs: 1, maxMs: 3_600_000 }) as DurationBounds,
  backoffInitialMs: Object.freeze({ minMs: 1000, maxMs: 24 * 3_600_000 }) as DurationBounds,
  backoffMaximumMs: Object.freeze({ minMs: 1000, maxMs: 7 * 24 * 3_600_000 }) as DurationBounds,
  /** Recovery thresholds, in milliseconds (the BMDB stores whole seconds). */
  recoveryThresholdMs: Object.freeze({ minMs: 1000, maxMs: 7 * 24 * 3_600_000 }) as DurationBounds,
  /** Attempts before a machine is quarantined (recoverer and initializer). */
  maxAttempts: Object.freeze({ min: 1, max: 100_000 }) as CountBounds,
  stormMinMachines: Object.freeze({ min: 1, max: 1_000_000 }) as CountBounds,
  /** The agents' heartbeat interval as the storm guard expects it. */
  heartbeatIntervalMs: Object.freeze({ minMs: 100, maxMs: 3_600_000 }) as DurationBounds,
  /** Zero cancels work in flight at once. */
  shutdownGraceMs: Object.freeze({ minMs: 0, maxMs: 3_600_000 }) as DurationBounds,
});

/** Thrown by checkShepherdOptions when a setting is outside SHEPHERD_BOUNDS. */
export class ShepherdOptionsError extends RangeError {
  override name = 'ShepherdOptionsError';
}

function checkCount(what: string, n: number | undefined, b: CountBounds): void {
  if (n !== undefined && (!Number.isInteger(n) || n < b.min || n > b.max)) throw new ShepherdOptionsError(`${what} must be a whole number from ${b.min} to ${b.max}, got ${n}`);
}

function checkMs(what: string, ms: number | undefined, b: DurationBounds): void {
  if (ms === undefined) return;
  try {
    checkDuration(what, ms, b);
  } catch (err) {
    throw new ShepherdOptionsError((err as Error).message, { cause: err });
  }
}

function checkBackoff(what: string, b: Backoff | undefined): void {
  if (!b) return;
  checkMs(`${what} backoff initialMs`, b.initialMs, SHEPHERD_BOUNDS.backoffInitialMs);
  checkMs(`${what} backoff maximumMs`, b.maximumMs, SHEPHERD_BOUNDS.backoffMaximumMs);
  if (b.maximumMs !== undefined && b.maximumMs < b.initialMs) throw new ShepherdOptionsError(`${what} backoff maximumMs must be at least its initialMs`);
}

/**
 * The one check of a shepherd's settings against SHEPHERD_BOUNDS (defaults
 * are filled in by each part).
 * @throws ShepherdOptionsError naming the first setting out of bounds.
 */
export function checkShepherdOptions(o: Omit<ShepherdOptions, 'bmdb' | 'provider'>): void {
  checkCount('provisioner maxCount', o.provisioner?.maxCount, SHEPHERD_BOUNDS.maxCount);
  checkCount('provisioner chunkSize', o.provisioner?.chunkSize, SHEPHERD_BOUNDS.chunkSize);
  checkCount('initializer parallelism', o.initializer.parallelism, SHEPHERD_BOUNDS.parallelism);
  checkCount('recoverer parallelism', o.recoverer?.parallelism, SHEPHERD_BOUNDS.parallelism);
  checkMs('initializer connectTimeoutMs', o.initializer.connectTimeoutMs, SHEPHERD_BOUNDS.connectTimeoutMs);
  checkMs('initializer execTimeoutMs', o.initializer.execTimeoutMs, SHEPHERD_BOUNDS.execTimeoutMs);
  checkBackoff('initializer', o.initializer.backoff);
  checkBackoff('recoverer', o.recoverer?.backoff);
  const t = o.recoverer?.thresholds;
  if (t) {
    checkMs('recoverer noHeartbeatAfterStart', t.noHeartbeatAfterStartSeconds * 1000, SHEPHERD_BOUNDS.recoveryThresholdMs);
    checkMs('recoverer silence', t.silenceSeconds * 1000, SHEPHERD_BOUNDS.recoveryThresholdMs);
  }
  checkCount('initializer maxAttempts', o.initializer.maxAttempts, SHEPHERD_BOUNDS.maxAttempts);
  checkCount('recoverer maxAttempts', o.recoverer?.maxAttempts, SHEPHERD_BOUNDS.maxAttempts);
  const g = o.recoverer?.stormGuard;
  if (g) {
    if (g.threshold !== undefined && !(g.threshold >= 0 && g.threshold <= 1)) throw new ShepherdOptionsError(`recoverer storm threshold must be a share from 0 to 1, got ${g.threshold}`);
    checkCount('recoverer storm minMachines', g.minMachines, SHEPHERD_BOUNDS.stormMinMachines);
    checkMs('recoverer heartbeatIntervalMs', g.heartbeatIntervalMs, SHEPHERD_BOUNDS.heartbeatIntervalMs);
  }
  checkMs('shutdownGraceMs', o.shutdownGraceMs, SHEPHERD_BOUNDS.shutdownGraceMs);
}
