// Which database errors mean "run the whole transaction again", and how long
// to wait before doing so. Modelled on graphile-worker's table of SQLSTATEs.
import { sqlState } from './errors.ts';

/** SQLSTATEs after which a transaction is safe and useful to retry from the start. */
export const RETRYABLE_SQLSTATES: ReadonlyMap<string, string> = new Map([
  // Raised by PostgreSQL at SERIALIZABLE and by CockroachDB at any isolation
  // ("restart transaction"): the transaction lost a conflict and did nothing.
  ['40001', 'serialization_failure'],
  // The server killed this transaction to break a lock cycle.
  ['40P01', 'deadlock_detected'],
]);

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 1000 });

export function isRetryable(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

/** "Full jitter": uniformly random up to an exponentially growing cap. attempt counts from 1. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap * random());
}
