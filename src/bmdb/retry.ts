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
  /** Attempts in total, the first included: a backstop; the time budget is what normally ends retrying. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** Cap of one delay. Kept short, so a transaction that lost a few conflicts is not parked while others go on. */
  readonly maxDelayMs: number;
  /** No retry starts later than this after the first attempt started. */
  readonly budgetMs: number;
}

// Sized for contention: at SERIALIZABLE, dozens of claimers scanning the same
// small index pages conflict often (PostgreSQL's predicate locks on a B-tree
// are per page), and a claim may lose ten times in a row without anything
// being wrong. 10 attempts up to 1 s apart ran out for about 2 % of 32
// concurrent claimers; many short jittered delays within a time budget do not.
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 100, baseDelayMs: 5, maxDelayMs: 250, budgetMs: 15_000 });

export function isRetryable(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

/** "Full jitter": uniformly random up to an exponentially growing cap. attempt counts from 1. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap * random());
}

/**
 * The delay before the next attempt after `attempt` attempts failed
 * retryably, `elapsedMs` after the first one started; undefined when the
 * policy's attempts or time budget are used up.
 */
export function nextRetryDelayMs(attempt: number, elapsedMs: number, policy: RetryPolicy, random: () => number = Math.random): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  const delay = retryDelayMs(attempt, policy, random);
  return elapsedMs + delay > policy.budgetMs ? undefined : delay;
}
