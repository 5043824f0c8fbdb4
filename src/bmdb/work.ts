// Work: a lock on (machine, process) held by a session while the slow part of
// a process (SSH, provider calls) runs outside any transaction. A Work owns
// the statements that end it: finish, fail and cancel.
import type { Logger } from 'pino';
import { backoffDelayMs, nextBackoffSeconds, type Backoff } from './backoff.ts';
import { WorkClosedError, WorkLostError } from './errors.ts';
import type { Process, Processor } from './model.ts';
import { bindQueries, type Queries } from './queries/index.ts';
import type { QueryResult } from './driver.ts';
import { leadingStatement } from './leading-statement.ts';
import type { FinishRequest } from './finish-group.ts';
import { raiseWhen, rethrowRaised } from './raised-check.ts';
import { runTransaction, type TransactContext } from './transact.ts';

/** The backoff row a machine had for this process when the work started. */
export interface ExistingBackoff {
  until: Date;
  cause: string;
  lastIntervalSeconds: number | null;
}

/** What a retrieval function returns for the machine to claim: at least its id. */
export interface ClaimedRow {
  readonly machineId: string;
}

export type WorkState = 'open' | 'finished' | 'failed' | 'canceled';

/**
 * What a Work needs from the session that claimed it. Built by Session for
 * each claim; the callbacks are the session's, not public methods.
 */
export interface WorkBinding {
  readonly ctx: TransactContext;
  readonly processor: Processor;
  readonly sessionId: string;
  readonly logger: Logger;
  /** The session's signal: aborts when it expires or closes. */
  readonly signal: AbortSignal;
  /** Throws SessionExpiredError when the session is already known to be dead. */
  readonly throwIfExpired: () => void;
  /** Marks the session expired (its deadline passed) and throws SessionExpiredError. */
  readonly sessionDied: () => never;
  /** Told once, when the work ends. */
  readonly ended: (work: Work<ClaimedRow>) => void;
  /** Finishes the work together with others of the session waiting at the same time (finish-group.ts). */
  readonly finishTogether: (request: FinishRequest, signal: AbortSignal | undefined) => Promise<void>;
}

// Deletes the work row only if this session holds it (the fence) and writes
// the history row for the end event in the same statement. History uses the
// wall clock at the write (not the transaction's start), so the audit trail
// orders a release before the claim that waited for it. Used by cancel, which
// drops our lock whether or not the session is still alive.
const CANCEL_WORK = `WITH gone AS (
  DELETE FROM work WHERE machine_id = $1 AND process = $2 AND session_id = $3 RETURNING machine_id, process
)
INSERT INTO work_history (machine_id, process, event, timestamp)
SELECT machine_id, process, 'Canceled', clock_timestamp() FROM gone`;

// Finish and fail: the fenced delete, which also checks the session is alive
// (instead of a separate liveness query) and, when $6, clears the backoff,
// all in one round trip. It raises (raised-check.ts) when the session expired
// or another session holds the work, so nothing sent after it in the same
// round trip runs, its COMMIT included; its one row's changes are then
// rolled back with the transaction. last_interval_seconds is read from the
// statement's snapshot, i.e. before the clearing delete.
const SESSION_EXPIRED = 'session expired';
const WORK_LOST = 'work lost';
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
SELECT ${raiseWhen([
  ['NOT EXISTS (SELECT 1 FROM live)', SESSION_EXPIRED],
  ['g.machine_id IS NULL', WORK_LOST],
])} AS fence, b.last_interval_seconds
FROM (SELECT 1) AS one
LEFT JOIN gone g ON true
LEFT JOIN work_backoff b ON b.machine_id = g.machine_id AND b.process = g.process`;

const STORE_BACKOFF = `INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
VALUES ($1, $2, now() + $3::int * interval '1 millisecond', $4, $5)
ON CONFLICT (machine_id, process) DO UPDATE
  SET until = excluded.until, cause = excluded.cause, last_interval_seconds = excluded.last_interval_seconds`;

// The abort reason of a work's signal once it ended, made without a stack
// trace: it says only how the work ended, and capturing one per work was a
// measurable share of a claim cycle's CPU.
function closedReason(state: Exclude<WorkState, 'open'>): WorkClosedError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new WorkClosedError(`work ${state}`);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A claimed machine: the row the retrieval returned, locked for one process. */
export class Work<R extends ClaimedRow = ClaimedRow> implements AsyncDisposable {
  /** The row the retrieval function returned for this machine, as it was read in the claiming transaction. */
  readonly row: R;
  readonly machineId: string;
  readonly process: Process;
  /** The backoff in force for this machine and process when the work was taken, if any. */
  readonly previousBackoff: ExistingBackoff | null;
  readonly #b: WorkBinding;
  #state: WorkState = 'open';
  #controller = new AbortController();

  constructor(binding: WorkBinding, row: R, process: Process, previousBackoff: ExistingBackoff | null) {
    this.#b = binding;
    this.row = row;
    this.machineId = row.machineId;
    this.process = process;
    this.previousBackoff = previousBackoff;
    const { signal } = binding;
    if (signal.aborted) this.#controller.abort(signal.reason);
    else signal.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true, signal: this.#controller.signal });
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
    this.#controller.abort(closedReason(state));
    this.#b.ctx.metrics.workFinished.inc({ processor: this.#b.processor, process: this.process, result: state });
    this.#b.ended(this);
  }

  /**
   * One transaction that starts with the fenced end statement. No liveness
   * check of its own: the statement checks the session (one round trip
   * fewer). With `leading`, the end statement travels with fn's first
   * statement (leading-statement.ts): for fns that need nothing from it.
   */
  #transactEnd<T>(
    event: 'Finished' | 'Failed',
    cause: string | null,
    clearBackoff: boolean,
    fn: (q: Queries, lastIntervalSeconds: number | null) => Promise<T>,
    opts: { signal: AbortSignal | undefined; leading: boolean },
  ): Promise<T> {
    this.#b.throwIfExpired();
    const { signal } = opts;
    const end = { sql: END_WORK_LIVE, params: [this.machineId, this.process, this.#b.sessionId, event, cause, clearBackoff] };
    let last: number | null = null;
    // The statement raised: nothing was written.
    const raised = (reason: string): never => {
      if (reason === SESSION_EXPIRED) this.#b.sessionDied();
      throw new WorkLostError(`session no longer holds ${this.process} work on ${this.machineId}`);
    };
    const verify = (r: QueryResult) => {
      const row = r.rows[0]!;
      last = row.last_interval_seconds === null || row.last_interval_seconds === undefined ? null : Number(row.last_interval_seconds);
    };
    return runTransaction(
      this.#b.ctx,
      this.#b.processor,
      async (tx) => {
        if (!opts.leading) {
          try {
            verify(await tx.query(end.sql, end.params, { signal }));
          } catch (err) {
            rethrowRaised(err, raised);
          }
          return fn(bindQueries(tx), last);
        }
        const lead = leadingStatement(tx, end, verify, raised);
        const result = await fn(bindQueries(lead.db), null);
        await lead.settle({ signal });
        return result;
      },
      { signal },
    );
  }

  /**
   * Ends the work successfully: removes the lock and the backoff, writes
   * `Finished`, and runs `fn` (which should change tags so the machine stops
   * being a candidate), all in one transaction. The end statement travels with
   * fn's first statement; when that is also fn's last, passing it `{ commits:
   * true }` sends the COMMIT along too, and the finish takes one round trip
   * (a failed fence still writes nothing: the statement raises, and the
   * server runs nothing after it). Finishes of the session's works made
   * while others are on their way go out together (finish-group.ts): fn may
   * then share its transaction with other works' finishes, and runs again
   * alone when the group writes nothing.
   * @throws WorkLostError when this session no longer holds the work; nothing is written.
   * @throws SessionExpiredError when the session is gone; nothing is written.
   */
  async finish(fn?: (q: Queries) => Promise<void>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.#ensureOpen('finish');
    const alone = async () => {
      this.#ensureOpen('finish');
      await this.#transactEnd('Finished', null, true, async (q) => {
        if (fn) await fn(q);
      }, { signal: opts.signal, leading: true });
    };
    const finished = () => this.#state === 'open' && this.#end('finished');
    await this.#b.finishTogether({ machineId: this.machineId, process: this.process, fn, alone, finished }, opts.signal);
    // Only now: ending the work aborts its signal, which the caller's signal often includes.
    finished();
  }

  /**
   * Ends the work as failed: removes the lock, writes `Failed` with the cause,
   * and stores the next backoff interval (see Backoff). Without a backoff the
   * previous interval is reused, or 1 s. Returns the interval in seconds.
   * @throws WorkLostError when this session no longer holds the work; nothing is written.
   * @throws SessionExpiredError when the session is gone; nothing is written.
   */
  async fail(backoff: Backoff | undefined, cause: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
    this.#ensureOpen('fail');
    const interval = await this.#transactEnd('Failed', cause, false, async (q, previous) => {
      const seconds = nextBackoffSeconds(backoff, previous);
      await q.db.query(STORE_BACKOFF, [this.machineId, this.process, backoffDelayMs(backoff, seconds), cause, seconds], opts);
      // The backoff moves the machine's agent start hint to its end (docs/architecture.md#work-schedule).
      await q.hintBackoff({ machineId: this.machineId, process: this.process }, opts);
      return seconds;
    }, { signal: opts.signal, leading: false });
    this.#end('failed');
    return interval;
  }

  /**
   * Gives the work up without a verdict: removes the lock (fenced, with no
   * liveness check: the lock is ours to drop) and writes `Canceled`. Never
   * throws; a failure is logged (the lock then goes away with the session at
   * the latest).
   */
  async cancel(): Promise<void> {
    if (this.#state !== 'open') return;
    try {
      await this.#b.ctx.driver.query(CANCEL_WORK, [this.machineId, this.process, this.#b.sessionId]);
    } catch (err) {
      this.#b.logger.warn({ err, machineId: this.machineId, process: this.process }, 'could not cancel work');
    }
    if (this.#state === 'open') this.#end('canceled');
  }

  /** `await using work = ...` cancels the work on every path that did not end it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cancel();
  }
}
