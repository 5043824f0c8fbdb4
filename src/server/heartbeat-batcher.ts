// Group commit of plain heartbeats (docs/architecture.md#callback-server).
// Calls that arrive while earlier batches are being written wait and go out
// together in the next one: one session transaction, one statement
// (recordHeartbeats) that authenticates and writes them all. A call is
// answered only after its batch committed, and every batch re-checks the keys
// against AgentStarted in the statement that writes, so a revoked key is
// refused by the first batch that starts after the revocation committed.
import type { Logger } from 'pino';
import { claimAccepted, type AcceptedHeartbeat, type HeartbeatClaim } from '../bmdb/index.ts';
import { HeartbeatBatcherClosedError } from './errors.ts';
import type { Transactor } from './heartbeat.ts';

export interface HeartbeatBatcherOptions {
  /** Runs a function in the server's session transaction. */
  readonly transact: Transactor;
  readonly logger: Logger;
  /** Most claims in one statement; default 1000. */
  readonly maxBatch?: number;
  /** Most batches being written at once; default 2. Keeps the connection pool free for the session's keep-alive. */
  readonly maxInFlight?: number;
  /** Shutdown's second stage: aborts batches being written and fails every waiting call. */
  readonly signal?: AbortSignal;
  /** Told the size of every batch written (metrics). */
  readonly onBatch?: (size: number) => void;
}

interface Pending {
  readonly claim: HeartbeatClaim;
  readonly resolve: (r: AcceptedHeartbeat | undefined) => void;
  readonly reject: (err: unknown) => void;
  readonly detach: () => void;
  settled: boolean;
}

export class HeartbeatBatcher {
  readonly #opts: HeartbeatBatcherOptions;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  #closed = false;
  #idle: (() => void) | undefined;
  #batches = 0;

  constructor(opts: HeartbeatBatcherOptions) {
    this.#opts = opts;
    this.#maxBatch = opts.maxBatch ?? 1000;
    this.#maxInFlight = opts.maxInFlight ?? 2;
    if (!(this.#maxBatch >= 1) || !(this.#maxInFlight >= 1)) throw new RangeError('maxBatch and maxInFlight must be at least 1');
    opts.signal?.addEventListener('abort', () => this.#failQueued(opts.signal!.reason), { once: true });
  }

  /** Batches written so far (each one statement in one transaction). */
  get batches(): number {
    return this.#batches;
  }

  /**
   * Records one heartbeat with the next batch; resolves once that batch
   * committed, with the accepted heartbeat or undefined when (machine id,
   * key) matched no AgentStarted tag.
   * @throws HeartbeatBatcherClosedError after close() or the shutdown signal.
   * @throws the batch's error (every call in a failed batch fails with it), or
   *   the call's signal reason when it aborted first.
   */
  submit(claim: HeartbeatClaim, opts: { signal?: AbortSignal } = {}): Promise<AcceptedHeartbeat | undefined> {
    if (this.#closed || this.#opts.signal?.aborted) return Promise.reject(new HeartbeatBatcherClosedError());
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (p.settled) return;
        this.#queue = this.#queue.filter((q) => q !== p);
        settle(p, () => reject(signal!.reason));
      };
      const p: Pending = { claim, resolve, reject, settled: false, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(p);
      this.#schedule();
    });
  }

  /**
   * Stops taking heartbeats, writes those already waiting and returns when
   * every batch is done. The shutdown signal cuts this short.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle = resolve;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Whatever arrives in the same turn of the event loop joins the batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#write(batch).finally(() => {
        this.#inFlight--;
        if (this.#queue.length > 0) this.#schedule();
        else if (this.#inFlight === 0) this.#idle?.();
      });
    }
    if (this.#queue.length === 0 && this.#inFlight === 0) this.#idle?.();
  }

  async #write(batch: Pending[]): Promise<void> {
    this.#batches++;
    this.#opts.onBatch?.(batch.length);
    const claims = batch.map((p) => p.claim);
    const signal = this.#opts.signal;
    try {
      const accepted = await this.#opts.transact((q) => q.recordHeartbeats({ claims }, signal ? { signal } : {}), signal ? { signal } : {});
      for (const p of batch) settle(p, () => p.resolve(claimAccepted(accepted, p.claim)));
    } catch (err) {
      this.#opts.logger.debug({ err, size: batch.length }, 'heartbeat batch failed');
      for (const p of batch) settle(p, () => p.reject(err));
    }
  }

  #failQueued(reason: unknown): void {
    const queued = this.#queue;
    this.#queue = [];
    const err = reason instanceof Error ? reason : new HeartbeatBatcherClosedError();
    for (const p of queued) settle(p, () => p.reject(err));
    if (this.#inFlight === 0) this.#idle?.();
  }
}

function settle(p: Pending, how: () => void): void {
  if (p.settled) return;
  p.settled = true;
  p.detach();
  how();
}
