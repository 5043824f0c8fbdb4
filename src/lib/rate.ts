// Rate limits written as "duration,count" (e.g. "250ms,8": a bucket of 8
// tokens, one token added every 250 ms), the syntax of every rate flag.
import { formatDuration, MAX_TIMER_MS, parseDuration } from './duration.ts';
import { sleep } from './sleep.ts';

export interface RateLimit {
  /** One token is added per interval. */
  readonly intervalMs: number;
  /** Bucket size: how many events may happen back to back. */
  readonly burst: number;
}

export class RateSyntaxError extends Error {
  override name = 'RateSyntaxError';
}

/** Bounds every rate obeys: an interval a timer can wait (1ms to MAX_TIMER_MS), a count of 1 to MAX_RATE_BURST. */
export const MAX_RATE_BURST = 1_000_000;

/**
 * Parses "duration,count".
 * @throws RateSyntaxError on bad syntax, a non-positive or overlong interval,
 *   or a count outside 1..MAX_RATE_BURST.
 */
export function parseRate(text: string): RateLimit {
  const parts = text.split(',');
  if (parts.length !== 2) throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: expected "duration,count", e.g. 250ms,8`);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(parts[0]!, { minMs: 1, maxMs: MAX_TIMER_MS });
  } catch (err) {
    throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: ${(err as Error).message}`, { cause: err });
  }
  const burst = Number(parts[1]!.trim());
  if (!Number.isInteger(burst) || burst < 1 || burst > MAX_RATE_BURST) {
    throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: count must be a whole number from 1 to ${MAX_RATE_BURST}`);
  }
  return { intervalMs, burst };
}

/** Writes a rate the way parseRate reads it ("250ms,8"). */
export function formatRate(rate: RateLimit): string {
  return `${formatDuration(rate.intervalMs)},${rate.burst}`;
}

/** A token bucket. `take` waits for a token; the bucket starts full. */
export class TokenBucket {
  readonly limit: RateLimit;
  #tokens: number;
  #last: number;
  #now: () => number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.limit = limit;
    this.#tokens = limit.burst;
    this.#now = now;
    this.#last = now();
  }

  #refill(): void {
    const now = this.#now();
    const added = (now - this.#last) / this.limit.intervalMs;
    this.#tokens = Math.min(this.limit.burst, this.#tokens + added);
    this.#last = now;
  }

  /** Takes a token without waiting; false when the bucket is empty. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Waits for a token. Returns false (without a token) when the signal aborts first. */
  async take(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      if (this.tryTake()) return true;
      const wait = Math.ceil((1 - this.#tokens) * this.limit.intervalMs);
      await sleep(Math.max(1, wait), signal);
    }
  }
}
