// Delays between attempts of a retryable BMC request: exponential with full
// jitter (a random wait in [d/2, d] for d = initial·2^n, capped), or the
// server's Retry-After when it sent one (also capped, so a BMC cannot park us).

export interface BackoffSettings {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Wait before retry number `retry` (0 for the first retry). */
export function backoffDelay(retry: number, settings: BackoffSettings, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), settings.maxMs);
  const ceiling = Math.min(settings.initialMs * 2 ** retry, settings.maxMs);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A Retry-After header (seconds or an HTTP date) in milliseconds, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(at - now, 0);
}
