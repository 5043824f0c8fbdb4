// A session: one live component instance, as a row with a deadline that a
// background loop keeps pushing forward. Every transaction of the session
// first checks the deadline; once it has passed the session is dead for good.
import type { Logger } from 'pino';
import { runtimeInfo } from '../lib/version.ts';
import { sleep } from '../lib/sleep.ts';
import { GroupQueue, type GroupOutcome } from '../lib/group-queue.ts';
import type { IsolationLevel, Queryable } from './driver.ts';
import { NothingToDoError, SessionExpiredError, StaleClaimError, WorkConflictError } from './errors.ts';
import type { DatabaseOutage } from './outage.ts';
import type { Process, Processor } from './model.ts';
import { bindQueries, type CandidateStatement, type Queries } from './queries/index.ts';
import { claimStatementText, MAX_CLAIM_GROUP } from './claim-statement.ts';
import { finishTogether, MAX_FINISH_GROUP, type FinishRequest } from './finish-group.ts';
import { leadingStatement } from './leading-statement.ts';
import { runTransaction, type TransactContext } from './transact.ts';
import { Work, type ClaimedRow, type ExistingBackoff, type WorkBinding } from './work.ts';

export interface SessionOptions {
  /** Component name recorded in the session row, e.g. `shepherd-initializer`. */
  component: string;
  /** Metrics label for everything this session does. */
  processor: Processor;
  /** Deadline extension per poke; default 5000 ms. The poke runs every interval / 2. */
  intervalMs?: number;
  /**
   * When it aborts, the session stops extending its deadline and otherwise
   * carries on, as a hung or crashed process would (tests of crash recovery).
   */
  keepAliveSignal?: AbortSignal;
  signal?: AbortSignal;
}

export interface SessionContext extends TransactContext {
  /** Sessions dead for longer than this are collected with their work. */
  readonly graceMs: number;
  /** Reports a database outage once; the session's own lines about it go to debug. */
  readonly outage?: DatabaseOutage;
}

// Removes sessions dead for longer than the grace period. Their work rows go
// too (the foreign key cascades); each gets a Canceled history row first so
// the audit trail says what happened.
const COLLECT_WORK = `WITH dead AS (
  SELECT session_id FROM sessions WHERE session_deadline < now() - $1::int * interval '1 millisecond'
), gone AS (
  DELETE FROM work WHERE session_id IN (SELECT session_id FROM dead) RETURNING machine_id, process
)
INSERT INTO work_history (machine_id, process, event, failed_cause, timestamp)
SELECT machine_id, process, 'Canceled', 'session expired and was collected', clock_timestamp() FROM gone`;
// Claims (machine, process) for this session, writes `Started`, and reads
// the backoff in force, in one round trip, after checking that the session is
// alive and (with `staleCheck`, see Session.work) that retrieve's view was not
// stale. Always one row: `live` false means the session's deadline passed,
// `stale` true that the work ended since the transaction began (nothing was
// written either way); a null machine_id means another session holds the work.
function claimSql(staleCheck: boolean): string {
  const stale = staleCheck
    ? `, held AS (
  SELECT 1 FROM work WHERE machine_id = $1 AND process = $3
), ended AS (
  SELECT 1 FROM work_history WHERE machine_id = $1 AND process = $3 AND event <> 'Started' AND timestamp > now() LIMIT 1
)`
    : '';
  return `WITH live AS (
  SELECT 1 FROM sessions WHERE session_id = $2 AND session_deadline > now()
)${stale}, claimed AS (
  INSERT INTO work (machine_id, session_id, process) SELECT $1::uuid, $2::uuid, $3::process FROM live
  ${staleCheck ? 'WHERE NOT EXISTS (SELECT 1 FROM held) AND NOT EXISTS (SELECT 1 FROM ended)' : ''}
  ON CONFLICT (machine_id, process) DO NOTHING RETURNING machine_id, process
), hist AS (
  INSERT INTO work_history (machine_id, process, event, timestamp) SELECT machine_id, process, 'Started', clock_timestamp() FROM claimed
)
SELECT EXISTS (SELECT 1 FROM live) AS live, ${staleCheck ? 'EXISTS (SELECT 1 FROM ended)' : 'false'} AS stale,
  c.machine_id, b.until, b.cause, b.last_interval_seconds
FROM (SELECT 1) AS one
LEFT JOIN claimed c ON true
LEFT JOIN work_backoff b ON b.machine_id = c.machine_id AND b.process = c.process`;
}
const CLAIM_WORK_CHECKED = claimSql(true);
const CLAIM_WORK = claimSql(false);

function existingBackoff(until: unknown, cause: unknown, lastIntervalSeconds: unknown): ExistingBackoff | null {
  if (until === null || until === undefined) return null;
  return { until: until as Date, cause: cause as string, lastIntervalSeconds: lastIntervalSeconds === null || lastIntervalSeconds === undefined ? null : Number(lastIntervalSeconds) };
}

const LIVE_SESSION = 'SELECT 1 FROM sessions WHERE session_id = $1 AND session_deadline > now()';

const COLLECT_SESSIONS = `DELETE FROM sessions WHERE session_deadline < now() - $1::int * interval '1 millisecond'`;

/**
 * Deletes expired sessions (and their work) past the grace period; returns how many.
 * Always at READ COMMITTED: the rows it removes belong to sessions that can no
 * longer write (their own statements check the deadline), so there is nothing
 * to serialize against, while at SERIALIZABLE its scans of sessions and work
 * would conflict with every claim running meanwhile. Both statements use the
 * transaction's now(), so they agree on which sessions are dead.
 */
export async function collectExpiredSessions(ctx: SessionContext, processor: Processor, opts: { signal?: AbortSignal } = {}): Promise<number> {
  return runTransaction(
    ctx,
    processor,
    async (tx) => {
      await tx.query(COLLECT_WORK, [ctx.graceMs], opts);
      const r = await tx.query(COLLECT_SESSIONS, [ctx.graceMs], opts);
      return r.rowCount;
    },
    { ...opts, isolation: 'read committed' },
  );
}

export class Session implements AsyncDisposable {
  readonly sessionId: string;
  readonly component: string;
  readonly processor: Processor;
  readonly intervalMs: number;
  readonly logger: Logger;
  #ctx: SessionContext;
  #controller = new AbortController();
  // Stops only the keep-alive loop (close, or the keepAliveSignal option).
  #keepAliveController = new AbortController();
  #keepAliveSignal: AbortSignal | undefined;
  #works = new Set<Work<ClaimedRow>>();
  // Claims waiting to go out together, per candidate statement and process (claim).
  #claimGroups = new Map<CandidateStatement<ClaimedRow>, Map<Process, GroupQueue<undefined, Work<ClaimedRow>>>>();
  // Finishes waiting to go out together (Work.finish).
  readonly #finishes: GroupQueue<FinishRequest, FinishRequest>;
  #heartbeat: Promise<void> | undefined;
  // What every Work of this session is given to end itself.
  readonly #binding: WorkBinding;

  private constructor(ctx: SessionContext, id: string, opts: SessionOptions, intervalMs: number) {
    this.#ctx = ctx;
    this.sessionId = id;
    this.component = opts.component;
    this.processor = opts.processor;
    this.intervalMs = intervalMs;
    this.logger = ctx.logger.child({ sessionId: id, component: opts.component });
    this.#keepAliveSignal = opts.keepAliveSignal;
    this.#finishes = new GroupQueue<FinishRequest, FinishRequest>({
      maxGroup: MAX_FINISH_GROUP,
      maxInFlight: 2,
      signal: this.#controller.signal,
      closedError: () => new SessionExpiredError('BMDB session closed'),
      run: (requests, signal) => finishTogether(ctx, opts.processor, id, requests, signal),
      discard: (request) => request.finished(),
    });
    this.#binding = Object.freeze({
      ctx,
      processor: opts.processor,
      sessionId: id,
      logger: this.logger,
      signal: this.#controller.signal,
      throwIfExpired: () => this.#throwIfExpired(),
      sessionDied: () => this.#expiredByDeadline(),
      ended: (work: Work<ClaimedRow>) => void this.#works.delete(work),
      finishTogether: async (request: FinishRequest, signal: AbortSignal | undefined) => void (await this.#finishes.submit(request, { signal })),
    });
  }

  /** Inserts the session row and starts keeping it alive. */
  static async start(ctx: SessionContext, opts: SessionOptions): Promise<Session> {
    const intervalMs = opts.intervalMs ?? 5000;
    if (!Number.isFinite(intervalMs) || intervalMs < 1000) throw new RangeError(`session interval must be at least 1000 ms, got ${intervalMs}`);
    const intervalSeconds = Math.ceil(intervalMs / 1000);
    const r = await runTransaction(
      ctx,
      opts.processor,
      (tx) =>
        tx.query(
          `INSERT INTO sessions (session_component_name, session_runtime_info, session_interval_seconds, session_deadline)
           VALUES ($1, $2, $3, now() + $3::int * interval '1 second') RETURNING session_id`,
          [opts.component, runtimeInfo(), intervalSeconds],
          { signal: opts.signal },
        ),
      { signal: opts.signal },
    );
    const session = new Session(ctx, r.rows[0]!.session_id as string, opts, intervalSeconds * 1000);
    ctx.metrics.sessionStarted.inc({ processor: opts.processor });
    session.#heartbeat = session.#keepAlive();
    session.logger.debug('session started');
    return session;
  }

  /** Aborted when the session expires or is closed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  #expire(reason: string): void {
    if (this.#controller.signal.aborted) return;
    // Lost to an outage the process already reported (or found out just after
    // it): the outage's two lines say it, not one more per session.
    if (this.#ctx.outage?.accountsForSessionLoss(2 * this.intervalMs)) this.logger.debug({ reason }, 'session expired');
    else this.logger.warn({ reason }, 'session expired');
    this.#controller.abort(new SessionExpiredError(`BMDB session expired: ${reason}`));
  }

  #throwIfExpired(): void {
    if (this.#controller.signal.aborted) {
      const reason: unknown = this.#controller.signal.reason;
      throw reason instanceof SessionExpiredError ? reason : new SessionExpiredError();
    }
  }

  async #keepAlive(): Promise<void> {
    const signals = [this.#controller.signal, this.#keepAliveController.signal];
    if (this.#keepAliveSignal) signals.push(this.#keepAliveSignal);
    const signal = AbortSignal.any(signals);
    let lastSuccess = Date.now();
    while (!signal.aborted) {
      await sleep(this.intervalMs / 2, signal);
      if (signal.aborted) return;
      try {
        const r = await this.#ctx.driver.query(
          `UPDATE sessions SET session_deadline = now() + $2::int * interval '1 second'
           WHERE session_id = $1 AND session_deadline > now()`,
          [this.sessionId, this.intervalMs / 1000],
          // Bounded by the interval: on a connection that went silent the
          // deadline passes meanwhile, and this session must learn it then.
          { signal: AbortSignal.any([signal, AbortSignal.timeout(this.intervalMs)]) },
        );
        if (r.rowCount === 0) {
          this.#expire('the deadline passed before it could be extended');
          return;
        }
        lastSuccess = Date.now();
      } catch (err) {
        if (signal.aborted) return;
        if (this.#ctx.outage?.covers(err)) this.logger.debug({ err }, 'could not extend session');
        else this.logger.warn({ err }, 'could not extend session');
        if (Date.now() - lastSuccess >= this.intervalMs) {
          this.#expire('could not extend it for a whole interval');
          return;
        }
        continue;
      }
      // Every live instance collects the dead, so a crashed one's locks are
      // released without anyone in charge.
      try {
        const n = await collectExpiredSessions(this.#ctx, this.processor, { signal });
        if (n > 0) this.logger.info({ collected: n }, 'collected expired sessions');
      } catch (err) {
        if (!signal.aborted) this.logger.debug({ err }, 'could not collect expired sessions');
      }
    }
  }

  /** The liveness check on its own (transact sends it with fn's first statement; a claim has it built in). */
  async #check(tx: Queryable, signal?: AbortSignal): Promise<void> {
    this.#throwIfExpired();
    const r = await tx.query(LIVE_SESSION, [this.sessionId], { signal });
    if (r.rowCount === 0) this.#expiredByDeadline();
  }

  #expiredByDeadline(): never {
    this.#expire('the deadline passed');
    this.#throwIfExpired();
    throw new SessionExpiredError('BMDB session expired');
  }

  /**
   * Runs fn in one transaction after checking that the session is alive,
   * retrying serialization failures and deadlocks.
   * @throws SessionExpiredError when the session is dead; start a new one.
   */
  async transact<T>(fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal | undefined; isolation?: IsolationLevel } = {}): Promise<T> {
    this.#throwIfExpired();
    // The liveness check travels with fn's first statement (leading-statement.ts).
    const check = { sql: LIVE_SESSION, params: [this.sessionId] };
    return runTransaction(
      this.#ctx,
      this.processor,
      async (tx) => {
        const lead = leadingStatement(tx, check, (r) => {
          if (r.rowCount === 0) this.#expiredByDeadline();
        });
        const result = await fn(bindQueries(lead.db));
        await lead.settle({ signal: opts.signal });
        return result;
      },
      { signal: opts.signal, isolation: opts.isolation },
    );
  }

  /**
   * Takes work on the machine `retrieve` returns, and returns the work with
   * that row (`work.row`). `retrieve` runs in the claiming transaction and may
   * run more than once: no side effects outside the database. Without
   * `retrieveWrites` the claim commits in the same round trip as its statement,
   * so a refused claim still commits whatever `retrieve` wrote; a `retrieve`
   * that writes (e.g. the recoverer's storm-guard ledger and attempt counters)
   * passes `retrieveWrites: true`, and a refused claim then rolls those writes
   * back, for one more round trip per claim.
   * @throws NothingToDoError when retrieve returns no machine (or throws it).
   * @throws WorkConflictError when another session holds that machine already.
   * @throws SessionExpiredError when the session is dead.
   */
  async work<R extends ClaimedRow>(process: Process, retrieve: (q: Queries) => Promise<R | undefined>, opts: { signal?: AbortSignal; retrieveWrites?: boolean } = {}): Promise<Work<R>> {
    this.#throwIfExpired();
    // At READ COMMITTED, retrieve's snapshot may predate another session's
    // claim *and* end of this very work (the row lock retrieve took with SKIP
    // LOCKED was free again by then), so the machine may no longer be a
    // candidate. That other claim committed before retrieve got the row lock,
    // so the claim statement's fresh snapshot sees either its work row (the
    // work is still held) or an end of this work strictly later than the
    // transaction's start, which precedes retrieve's snapshot. Either way the
    // claim is a lost race, retried by the caller; rarely the end check flags
    // a view that was fine. Strictly later: such an end comes after that
    // other claim, which committed after our start, so it is later by at
    // least a commit, while an end at the very same clock reading is one we
    // saw (PGlite's clock may tick in whole milliseconds; it runs one
    // transaction at a time). At SERIALIZABLE the database itself rules such
    // a claim out: it read "no work, still a candidate" where a transaction
    // that committed meanwhile wrote otherwise, a serialization failure
    // retried like any other, so the statement does without these reads.
    const sql = this.#ctx.isolation === 'serializable' ? CLAIM_WORK : CLAIM_WORK_CHECKED;
    const claimed = await runTransaction(this.#ctx, this.processor, async (tx) => {
      const q = bindQueries(tx);
      const row = await retrieve(q);
      if (row === undefined) {
        // A dead session learns it here rather than being told there is nothing to do.
        await this.#check(tx, opts.signal);
        throw new NothingToDoError();
      }
      const { machineId } = row;
      // The claim is the transaction's last statement and, when retrieve only
      // read, commits with it: when it writes nothing (session dead, stale
      // view, held elsewhere) the commit only releases retrieve's row lock, as
      // a rollback would. After a retrieve that wrote, a refusal below throws
      // before the commit, so the transaction rolls those writes back.
      const r = await tx.query(sql, [machineId, this.sessionId, process], { signal: opts.signal, commits: !opts.retrieveWrites });
      const lock = r.rows[0]!;
      if (!lock.live) this.#expiredByDeadline();
      if (lock.stale) throw new StaleClaimError(`${process} work on ${machineId} ended concurrently; its candidacy must be re-read`);
      if (lock.machine_id === null || lock.machine_id === undefined) throw new WorkConflictError(`${process} work on ${machineId} is already held by another session`);
      return { row, backoff: existingBackoff(lock.until, lock.cause, lock.last_interval_seconds) };
    }, { signal: opts.signal });
    return this.#started(claimed.row, process, claimed.backoff);
  }

  /**
   * Session.work with the retrieval given as one candidate statement
   * (agentStartCandidateStatement), for one round trip and one statement
   * per claim: the statement finds the machine, locks it, checks the session
   * and claims it, and commits. Same guarantees as work: a view that went
   * stale before the lock (another session claimed and ended the work
   * meanwhile) is refused at READ COMMITTED by a check with a snapshot of its
   * own (migration 0010); at SERIALIZABLE the database refuses it.
   *
   * When the statement has `sqlFor`, claims of this session through it (and
   * for the same process) that are made while one is on its way to the
   * database wait for it and then go out together, up to MAX_CLAIM_GROUP in
   * one statement that takes a machine for each of them: one statement per
   * group instead of per claim, with the same checks per machine. A claim
   * whose signal aborts while it waits is dropped from its group; one whose
   * group is already out gets the abort at once, and the machine its group
   * took for it is released (Work.cancel).
   * @throws NothingToDoError when the statement finds no machine (for this claim: a group may find fewer machines than claims).
   * @throws WorkConflictError when another session holds the machine, or ended its work since the statement began.
   * @throws SessionExpiredError when the session is dead or closed.
   */
  async claim<R extends ClaimedRow>(process: Process, candidate: CandidateStatement<R>, opts: { signal?: AbortSignal } = {}): Promise<Work<R>> {
    this.#throwIfExpired();
    if (!candidate.sqlFor) {
      const [outcome] = await this.#claimGroup(process, candidate, 1, opts.signal);
      if (!outcome!.ok) throw outcome!.error;
      return outcome!.value;
    }
    return (await this.#claimQueue(process, candidate).submit(undefined, { signal: opts.signal })) as Work<R>;
  }

  #claimQueue(process: Process, candidate: CandidateStatement<ClaimedRow>): GroupQueue<undefined, Work<ClaimedRow>> {
    let byProcess = this.#claimGroups.get(candidate);
    if (!byProcess) this.#claimGroups.set(candidate, (byProcess = new Map()));
    let queue = byProcess.get(process);
    if (!queue) {
      queue = new GroupQueue<undefined, Work<ClaimedRow>>({
        maxGroup: MAX_CLAIM_GROUP,
        maxInFlight: 1,
        signal: this.#controller.signal,
        closedError: () => new SessionExpiredError('BMDB session closed'),
        run: (items, signal) => this.#claimGroup(process, candidate, items.length, signal),
        discard: (work) => void work.cancel(),
      });
      byProcess.set(process, queue);
    }
    return queue;
  }

  /** One claim statement for `size` claims: an outcome for each, claimed machines first. */
  async #claimGroup<R extends ClaimedRow>(process: Process, candidate: CandidateStatement<R>, size: number, signal: AbortSignal | undefined): Promise<GroupOutcome<Work<R>>[]> {
    this.#throwIfExpired();
    const sql = claimStatementText(candidate, this.#ctx.isolation !== 'serializable', size);
    const params = [...candidate.params, this.sessionId, process];
    const r = await runTransaction(this.#ctx, this.processor, (tx) => tx.query(sql, params, { signal, commits: true }), { signal });
    if (!r.rows[0]!.bmdb_live) this.#expiredByDeadline();
    const found = r.rows.filter((row) => row.machine_id !== null && row.machine_id !== undefined);
    const claimed = found.filter((row) => row.bmdb_claimed !== null && row.bmdb_claimed !== undefined);
    const outcomes: GroupOutcome<Work<R>>[] = claimed.map((lock) => ({
      ok: true,
      value: this.#started(candidate.row(lock), process, existingBackoff(lock.bmdb_until, lock.bmdb_cause, lock.bmdb_last_interval_seconds)),
    }));
    for (const lock of found) {
      if (!claimed.includes(lock)) outcomes.push({ ok: false, error: new WorkConflictError(`${process} work on ${lock.machine_id as string} is held by another session or ended since the claim began`) });
    }
    while (outcomes.length < size) outcomes.push({ ok: false, error: new NothingToDoError() });
    return outcomes;
  }

  #started<R extends ClaimedRow>(row: R, process: Process, backoff: ExistingBackoff | null): Work<R> {
    const work = new Work(this.#binding, row, process, backoff);
    this.#works.add(work);
    this.#ctx.metrics.workStarted.inc({ processor: this.processor, process });
    this.logger.debug({ machineId: work.machineId, process }, 'started work');
    return work;
  }

  /**
   * Ends the session: cancels its open work, stops the keep-alive loop and
   * deletes the session row (which releases any remaining lock). Idempotent.
   */
  async close(opts: { signal?: AbortSignal } = {}): Promise<void> {
    // Finishes asked for go out; waiting claims fail; a group already out
    // comes back first, so its machines are canceled below.
    await this.#finishes.close();
    await Promise.all([...this.#claimGroups.values()].flatMap((byProcess) => [...byProcess.values()].map((queue) => queue.close({ drop: true }))));
    await Promise.all([...this.#works].map((work) => work.cancel()));
    if (!this.#controller.signal.aborted) this.#controller.abort(new SessionExpiredError('BMDB session closed'));
    this.#keepAliveController.abort();
    await this.#heartbeat;
    try {
      await this.#ctx.driver.query('DELETE FROM sessions WHERE session_id = $1', [this.sessionId], opts);
    } catch (err) {
      const level = this.#ctx.outage?.covers(err) ? 'debug' : 'warn';
      this.logger[level]({ err }, 'could not delete session row; it will be collected after its deadline');
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
