// Group commit of plain heartbeats (docs/architecture.md#callback-server),
// on the general GroupQueue.
// Calls that arrive while earlier batches are being written wait and go out
// together in the next one: one session transaction, one statement
// (recordHeartbeats) that authenticates and writes them all. A call is
// answered only after its batch committed, and every batch re-checks the keys
// against AgentStarted in the statement that writes, so a revoked key is
// refused by the first batch that starts after the revocation committed.
import type { Logger } from 'pino';
import { GroupQueue } from '../lib/index.ts';
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

export class HeartbeatBatcher {
  readonly #queue: GroupQueue<HeartbeatClaim, AcceptedHeartbeat | undefined>;

  constructor(opts: HeartbeatBatcherOptions) {
    const { signal } = opts;
    this.#queue = new GroupQueue({
      maxGroup: opts.maxBatch ?? 1000,
      maxInFlight: opts.maxInFlight ?? 2,
      ...(signal ? { signal } : {}),
      closedError: () => new HeartbeatBatcherClosedError(),
      ...(opts.onBatch ? { onGroup: opts.onBatch } : {}),
      onError: (err, size) => opts.logger.debug({ err, size }, 'heartbeat batch failed'),
      run: async (claims, signal) => {
        const accepted = await opts.transact((q) => q.recordHeartbeats({ claims }, signal ? { signal } : {}), signal ? { signal } : {});
        return claims.map((claim) => ({ ok: true, value: claimAccepted(accepted, claim) }));
      },
    });
  }

  /** Batches written so far (each one statement in one transaction). */
  get batches(): number {
    return this.#queue.groups;
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
    return this.#queue.submit(claim, opts);
  }

  /**
   * Stops taking heartbeats, writes those already waiting and returns when
   * every batch is done. The shutdown signal cuts this short.
   */
  close(): Promise<void> {
    return this.#queue.close();
  }
}
