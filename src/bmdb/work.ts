// Work: a lock on (machine, process) held by a session while the slow part of
// a process (SSH, provider calls) runs outside any transaction.
import type { Logger } from 'pino';
import { backoffDelayMs, nextBackoffSeconds, type Backoff } from './backoff.ts';
import { WorkClosedError, WorkLostError } from './errors.ts';
import type { Process } from './model.ts';
import type { Queries } from './queries/index.ts';

/** The backoff row a machine had for this process when the work started. */
export interface ExistingBackoff {
  until: Date;
  cause: string;
  lastIntervalSeconds: number | null;
}

export type WorkState = 'open' | 'finished' | 'failed' | 'canceled';

/** What a Work needs from its session; implemented by Session. */
export interface WorkOwner {
  readonly sessionId: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  transactWork<T>(fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal | undefined }): Promise<T>;
  /** Marks the session expired and throws SessionExpiredError. */
  sessionDied(): never;
  cancelWork(machineId: string, process: Process): Promise<boolean>;
  workEnded(work: Work, result: 'finished' | 'failed' | 'canceled'): void;
}

// Deletes the work row only if this session holds it (the fence) and writes
// the history row for the end event in the same statement. History uses the
// wall clock at the write (not the transaction's start), so the audit trail
// orders a release before the claim that waited for it. Used by cancel, which
// drops our lock whether or not the session is still alive.
const END_WORK = `WITH gone AS (
  DELETE FROM work WHERE machine_id = $1 AND process = $2 AND session_id = $3 RETURNING machine_id, process
), hist AS (
  INSERT INTO work_history (machine_id, process, event, failed_cause, timestamp)
  SELECT machine_id, process, $4::work_history_event, $5, clock_timestamp() FROM gone
)
SELECT g.machine_id, b.last_interval_seconds FROM gone g
LEFT JOIN work_backoff b ON b.machine_id = g.machine_id AND b.process = g.process`;

// Finish and fail: END_WORK that also checks the session is alive (instead of
// a separate liveness query) and, when $6, clears the backoff, all in one
// round trip. Always returns one row: `live` false means the session expired
// (nothing was changed); a null machine_id means another session holds the
// work. last_interval_seconds is read from the statement's snapshot, i.e.
// before the clearing delete.
const END_WORK_LIVE = `WITH live AS (
  SELECT 1 FROM sessions WHERE session_id = $3 AND session_deadline > now()
), gone AS (
  DELETE FROM work WHERE machine_id = $1 AND process = $2 AND session_id = $3 AND EXISTS (SELECT 1 FROM live)
  RETURNING machine_id, process
), hist AS (
  INSERT INTO work_history (machine_id, process, event, failed_cause, timestamp)
  SELECT machine_id, process, $4::work_history_event, $5, clock_timestamp() FROM gone
), cleared AS (
  DELETE FROM work_backoff WHERE $6::boolean AND machine_id = $1 AND process = $2 AND EXISTS (SELECT 1 FROM gone)
)
SELECT EXISTS (SELECT 1 FROM live) AS live, g.machine_id, b.last_interval_seconds
FROM (SELECT 1) AS one
LEFT JOIN gone g ON true
LEFT JOIN work_backoff b ON b.machine_id = g.machine_id AND b.process = g.process`;

export class Work implements AsyncDisposable {
  readonly machineId: string;
  readonly process: Process;
  /** The backoff in force for this machine and process when the work was taken, if any. */
  readonly previousBackoff: ExistingBackoff | null;
  #owner: WorkOwner;
  #state: WorkState = 'open';
  #controller = new AbortController();

  constructor(owner: WorkOwner, machineId: string, process: Process, previousBackoff: ExistingBackoff | null) {
    this.#owner = owner;
    this.machineId = machineId;
    this.process = process;
    this.previousBackoff = previousBackoff;
    owner.signal.addEventListener('abort', () => this.#controller.abort(owner.signal.reason), { once: true });
  }

  get state(): WorkState {
    return this.#state;
  }

  /** Aborted when the work ends or its session expires or closes. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #ensureOpen(action: string): void {
    if (this.#state !== 'open') throw new WorkClosedError(`cannot ${action} work on ${this.machineId} (${this.process}): already ${this.#state}`);
  }

  #end(state: Exclude<WorkState, 'open'>): void {
    this.#state = state;
    this.#controller.abort(new WorkClosedError(`work ${state}`));
    this.#owner.workEnded(this, state);
  }

  /** Runs END_WORK_LIVE; throws when the session died or the work is not ours. */
  async #endWork(q: Queries, event: 'Finished' | 'Failed', cause: string | null, clearBackoff: boolean, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const r = await q.db.query(END_WORK_LIVE, [this.machineId, this.process, this.#owner.sessionId, event, cause, clearBackoff], { signal });
    const row = r.rows[0]!;
    if (!row.live) this.#owner.sessionDied();
    if (row.machine_id === null || row.machine_id === undefined) throw new WorkLostError(`session no longer holds ${this.process} work on ${this.machineId}`);
    return row;
  }

  /**
   * Ends the work successfully: removes the lock and the backoff, writes
   * `Finished`, and runs `fn` (which should change tags so the machine stops
   * being a candidate), all in one transaction.
   * @throws WorkLostError when this session no longer holds the work; nothing is written.
   * @throws SessionExpiredError when the session is gone; nothing is written.
   */
  async finish(fn?: (q: Queries) => Promise<void>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.#ensureOpen('finish');
    await this.#owner.transactWork(async (q) => {
      await this.#endWork(q, 'Finished', null, true, opts.signal);
      if (fn) await fn(q);
    }, opts);
    this.#end('finished');
  }

  /**
   * Ends the work as failed: removes the lock, writes `Failed` with the cause,
   * and stores the next backoff interval (see Backoff). Without a backoff the
   * previous interval is reused, or 1 s.
   * @throws WorkLostError when this session no longer holds the work; nothing is written.
   * @throws SessionExpiredError when the session is gone; nothing is written.
   */
  async fail(backoff: Backoff | undefined, cause: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    this.#ensureOpen('fail');
    const interval = await this.#owner.transactWork(async (q) => {
      const row = await this.#endWork(q, 'Failed', cause, false, opts.signal);
      const previous = row.last_interval_seconds === null || row.last_interval_seconds === undefined ? null : Number(row.last_interval_seconds);
      const seconds = nextBackoffSeconds(backoff, previous);
      await q.db.query(
        `INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
         VALUES ($1, $2, now() + $3::int * interval '1 millisecond', $4, $5)
         ON CONFLICT (machine_id, process) DO UPDATE
           SET until = excluded.until, cause = excluded.cause, last_interval_seconds = excluded.last_interval_seconds`,
        [this.machineId, this.process, backoffDelayMs(backoff, seconds), cause, seconds],
        opts,
      );
      return seconds;
    }, opts);
    this.#end('failed');
    return interval;
  }

  /**
   * Gives the work up without a verdict: removes the lock and writes
   * `Canceled`. Never throws; a failure is logged (the lock then goes away
   * with the session at the latest).
   */
  async cancel(): Promise<void> {
    if (this.#state !== 'open') return;
    try {
      await this.#owner.cancelWork(this.machineId, this.process);
    } catch (err) {
      this.#owner.logger.warn({ err, machineId: this.machineId, process: this.process }, 'could not cancel work');
    }
    this.#end('canceled');
  }

  /** `await using work = ...` cancels the work on every path that did not end it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cancel();
  }

  /** @internal SQL used by Session to end work; exported for cancel. */
  static readonly END_WORK_SQL = END_WORK;
}
