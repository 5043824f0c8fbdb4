// How long a machine waits before a failed process is retried on it.

/**
 * A retry policy. Durations are in milliseconds but the BMDB works in whole
 * seconds, rounding up. Normalisation (applied before use):
 * - exponent below 1 becomes 1;
 * - initial below 1 s becomes 1 s;
 * - maximum below initial (including unset) becomes initial.
 *
 * The next interval after a failure is then:
 * - with exponent 1 (a "simple" backoff): always `initial`;
 * - with no previous interval stored: `initial`;
 * - otherwise: previous interval (at least 1 s) times exponent, rounded up to
 *   a whole second, capped at maximum.
 *
 * Example, `{ initial 60 s, maximum 120 s, exponent 1.1 }` from nothing:
 * 60, 66, 73, 81, 90, 99, 109, 120, 120, ...
 *
 * `jitter` (0..1, default 0) delays the retry time by up to that fraction of
 * the interval at random, so machines that failed together do not all come
 * back in the same second. The stored interval stays exact.
 */
export interface Backoff {
  readonly initialMs: number;
  readonly maximumMs?: number | undefined;
  readonly exponent?: number | undefined;
  readonly jitter?: number | undefined;
}

const ceilSeconds = (ms: number) => Math.ceil(ms / 1000);

/**
 * The next interval in seconds, given the policy (undefined = none given) and
 * the previously stored interval in seconds (null = none). With no policy the
 * previous interval is kept, or 1 s when there is none.
 */
export function nextBackoffSeconds(backoff: Backoff | undefined, previousSeconds: number | null): number {
  if (!backoff) return previousSeconds !== null && previousSeconds >= 1 ? previousSeconds : 1;
  const initial = Math.max(1, ceilSeconds(backoff.initialMs));
  const maximum = Math.max(initial, ceilSeconds(backoff.maximumMs ?? 0));
  const exponent = Math.max(1, backoff.exponent ?? 1);
  if (exponent === 1 || previousSeconds === null) return initial;
  // Multiply in whole milliseconds, truncating, before rounding up to seconds:
  // 90 s x 1.1 must give 99 s, not 100 s from 99.00000000000001.
  const grown = Math.ceil(Math.floor(Math.max(1, previousSeconds) * 1000 * exponent) / 1000);
  return Math.min(grown, maximum);
}

/** The delay actually applied for an interval: the interval plus its jitter. */
export function backoffDelayMs(backoff: Backoff | undefined, intervalSeconds: number, random: () => number = Math.random): number {
  const jitter = Math.min(1, Math.max(0, backoff?.jitter ?? 0));
  return Math.round(intervalSeconds * 1000 * (1 + jitter * random()));
}
