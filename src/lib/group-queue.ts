// Group commit in general: calls that arrive while earlier groups are on
// their way to the database wait, and go out together in the next group (one
// statement for all of them). Used by the callback server's heartbeats and by
// a BMDB session's claims.

/** What one item of a group came to: a value, or an error for that item alone. */
export type GroupOutcome<O> = { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

export interface GroupQueueOptions<I, O> {
  /**
   * Sends one group and returns one outcome per item, in the items' order.
   * When it throws, every item of the group fails with that error.
   */
  readonly run: (items: readonly I[], signal: AbortSignal | undefined) => Promise<readonly GroupOutcome<O>[]>;
  /** Most items in one group. */
  readonly maxGroup: number;
  /** Most groups being sent at once. */
  readonly maxInFlight: number;
  /** Aborts the groups being sent and fails every waiting call (a shutdown's second stage). */
  readonly signal?: AbortSignal;
  /** The error a call gets after close() or the signal. */
  readonly closedError: () => Error;
  /** Told the size of every group sent (metrics). */
  readonly onGroup?: (size: number) => void;
  /** Told a group's error before its calls get it (logging). */
  readonly onError?: (err: unknown, size: number) => void;
  /** Given a value whose caller stopped waiting (its signal aborted while the group was out), to release it. */
  readonly discard?: (value: O) => void;
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (err: unknown) => void;
  readonly detach: () => void;
  settled: boolean;
}

export class GroupQueue<I, O> {
  readonly #opts: GroupQueueOptions<I, O>;
  #queue: Pending<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;
  #closed = false;
  #idle: (() => void) | undefined;
  #groups = 0;

  constructor(opts: GroupQueueOptions<I, O>) {
    if (!(opts.maxGroup >= 1) || !(opts.maxInFlight >= 1)) throw new RangeError('maxGroup and maxInFlight must be at least 1');
    this.#opts = opts;
    opts.signal?.addEventListener('abort', () => this.#failQueued(opts.signal!.reason), { once: true });
  }

  /** Groups sent so far. */
  get groups(): number {
    return this.#groups;
  }

  /**
   * Adds `item` to the next group; resolves with its outcome once that group
   * is done.
   * @throws the closedError after close() or the queue's signal.
   * @throws the item's error, the group's error, or the call's signal reason when it aborted first.
   */
  submit(item: I, opts: { signal?: AbortSignal | undefined } = {}): Promise<O> {
    if (this.#closed || this.#opts.signal?.aborted) return Promise.reject(this.#opts.closedError());
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<O>((resolve, reject) => {
      const onAbort = () => {
        if (p.settled) return;
        this.#queue = this.#queue.filter((q) => q !== p);
        settle(p, () => reject(signal!.reason));
      };
      const p: Pending<I, O> = { item, resolve, reject, settled: false, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(p);
      this.#schedule();
    });
  }

  /**
   * Takes no more calls and returns when every group is done. With `drop`,
   * waiting calls fail with the closedError; without, they are sent first.
   * The queue's signal cuts this short.
   */
  async close(opts: { drop?: boolean } = {}): Promise<void> {
    this.#closed = true;
    if (opts.drop) this.#failQueued(undefined);
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle = resolve;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Whatever arrives in the same turn of the event loop joins the group.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inFlight < this.#opts.maxInFlight && this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#opts.maxGroup);
      this.#inFlight++;
      void this.#send(group).finally(() => {
        this.#inFlight--;
        if (this.#queue.length > 0) this.#schedule();
        else if (this.#inFlight === 0) this.#idle?.();
      });
    }
    if (this.#queue.length === 0 && this.#inFlight === 0) this.#idle?.();
  }

  async #send(group: Pending<I, O>[]): Promise<void> {
    this.#groups++;
    this.#opts.onGroup?.(group.length);
    let outcomes: readonly GroupOutcome<O>[];
    try {
      outcomes = await this.#opts.run(
        group.map((p) => p.item),
        this.#opts.signal,
      );
      if (outcomes.length !== group.length) throw new Error(`a group of ${group.length} came back with ${outcomes.length} outcomes`);
    } catch (err) {
      this.#opts.onError?.(err, group.length);
      for (const p of group) settle(p, () => p.reject(err));
      return;
    }
    for (const [i, p] of group.entries()) {
      const outcome = outcomes[i]!;
      if (p.settled) {
        if (outcome.ok) this.#opts.discard?.(outcome.value);
        continue;
      }
      settle(p, () => (outcome.ok ? p.resolve(outcome.value) : p.reject(outcome.error)));
    }
  }

  #failQueued(reason: unknown): void {
    const queued = this.#queue;
    this.#queue = [];
    const err = reason instanceof Error ? reason : this.#opts.closedError();
    for (const p of queued) settle(p, () => p.reject(err));
    if (this.#inFlight === 0) this.#idle?.();
  }
}

function settle<I, O>(p: Pending<I, O>, how: () => void): void {
  if (p.settled) return;
  p.settled = true;
  p.detach();
  how();
}
