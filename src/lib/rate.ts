// Rate limits written as "duration,count" (e.g. "250ms,8": a bucket of 8
// tokens, one token added every 250 ms), the syntax of every rate flag.
import { parseDuration } from './duration.ts';
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

export function parseRate(text: string): RateLimit {
  const parts = text.split(',');
  if (parts.length !== 2) throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: expected "duration,count", e.g. 250ms,8`);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(parts[0]!);
  } catch (err) {
    throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: ${(err as Error).message}`, { cause: err });
  }
  const burst = Number(parts[1]!.trim());
  if (!Number.isInteger(burst) || burst < 1) throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: count must be a whole number of at least 1`);
  if (intervalMs <= 0) throw new RateSyntaxError(`invalid rate ${JSON.stringify(text)}: duration must be positive`);
  return { intervalMs, burst };
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
