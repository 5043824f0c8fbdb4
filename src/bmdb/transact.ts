// One database transaction with automatic retry of serialization failures and
// deadlocks. Shared by session transactions and session-less ones.
import type { Logger } from 'pino';
import { sleep } from '../lib/sleep.ts';
import type { Driver, IsolationLevel, Queryable } from './driver.ts';
import type { BmdbMetrics } from './metrics.ts';
import type { Processor } from './model.ts';
import { isRetryable, nextRetryDelayMs, type RetryPolicy } from './retry.ts';

export interface TransactContext {
  readonly driver: Driver;
  readonly isolation: IsolationLevel;
  readonly metrics: BmdbMetrics;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
}

/**
 * Runs `fn` in a transaction. Retried from the start on SQLSTATE 40001/40P01 within the
 * retry policy's attempts and time budget, so `fn` must have no side effects
 * outside the database.
 */
export async function runTransaction<T>(
  ctx: TransactContext,
  processor: Processor,
  fn: (tx: Queryable) => Promise<T>,
  opts: { signal?: AbortSignal | undefined; isolation?: IsolationLevel } = {},
): Promise<T> {
  const labels = { processor };
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    ctx.metrics.transactionExecuted.inc(labels);
    try {
      return await ctx.driver.transaction(fn, { isolation: opts.isolation ?? ctx.isolation, signal: opts.signal });
    } catch (err) {
      const retryable = isRetryable(err) && !opts.signal?.aborted;
      const elapsedMs = performance.now() - started;
      const delay = retryable ? nextRetryDelayMs(attempt, elapsedMs, ctx.retry) : undefined;
      if (delay !== undefined) {
        ctx.metrics.transactionRetried.inc(labels);
        ctx.logger.debug({ err, attempt, delay }, 'retrying transaction');
        await sleep(delay, opts.signal);
        continue;
      }
      ctx.metrics.transactionFailed.inc(labels);
      if (retryable) {
        ctx.metrics.transactionRetriesExhausted.inc(labels);
        ctx.logger.warn({ attempts: attempt, elapsedMs: Math.round(elapsedMs), sqlState: (err as { code?: string }).code }, 'transaction ran out of retries');
      }
      throw err;
    }
  }
}
