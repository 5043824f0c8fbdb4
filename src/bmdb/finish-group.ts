// Group finishes: a session's Work.finish calls that wait at the same time go
// out together, in one transaction that ends all their works with one fenced
// statement and runs each finish's function on it. The functions' first
// statements are collected and sent with the end statement in one round trip,
// and when each of them says it is its function's last (QueryOptions.commits)
// the COMMIT travels with them too: a group of k finishes then costs one
// round trip and k + 1 statements besides the functions' own, where k
// finishes alone cost k round trips and 4k.
//
// The group is all or nothing: when its end statement raises (one of the
// works is no longer held, or the session expired), when any function or
// statement fails, or when the commit fails, nothing of it is written, and
// every finish of the group then runs alone, exactly as it would have without
// the group, and gets its own outcome. The one exception is a function that
// throws after its statement carried the group's COMMIT: the group stands
// (as that finish's own transaction would have), and only that finish gets
// the error.
import type { GroupOutcome } from '../lib/group-queue.ts';
import { queryAll, type Queryable, type QueryOptions, type QueryResult, type Statement } from './driver.ts';
import type { Process, Processor } from './model.ts';
import { bindQueries, type Queries } from './queries/index.ts';
import { raiseWhen } from './raised-check.ts';
import { runTransaction, type TransactContext } from './transact.ts';

/** Most finishes in one group. */
export const MAX_FINISH_GROUP = 16;

/** One Work.finish as its group sees it. */
export interface FinishRequest {
  readonly machineId: string;
  readonly process: Process;
  readonly fn: ((q: Queries) => Promise<void>) | undefined;
  /** Marks the work finished, once its group committed and its caller stopped waiting (Work.finish marks it otherwise). */
  readonly finished: () => void;
  /** The finish in a transaction of its own (Work.finish without a group); does not mark the work finished. */
  readonly alone: () => Promise<void>;
}

// Ends every work of the group: the fenced delete for each (machine,
// process), Finished history rows and the backoffs cleared, after checking
// that the session is alive. Raises (raised-check.ts) unless the session is
// alive and held every one of them, so nothing sent after it runs.
const END_WORKS = `WITH live AS (
  SELECT 1 FROM sessions WHERE session_id = $3 AND session_deadline > now()
), ending AS (
  SELECT e.machine_id, e.process FROM unnest($1::uuid[], $2::process[]) AS e(machine_id, process)
), gone AS (
  DELETE FROM work w USING ending e
  WHERE w.machine_id = e.machine_id AND w.process = e.process AND w.session_id = $3 AND EXISTS (SELECT 1 FROM live)
  RETURNING w.machine_id, w.process
), hist AS (
  INSERT INTO work_history (machine_id, process, event, timestamp)
  SELECT machine_id, process, 'Finished', clock_timestamp() FROM gone
), cleared AS (
  DELETE FROM work_backoff b USING gone g WHERE b.machine_id = g.machine_id AND b.process = g.process
)
SELECT ${raiseWhen([
  ['NOT EXISTS (SELECT 1 FROM live)', 'session expired'],
  ['(SELECT count(*) FROM gone) < cardinality($1::uuid[])', 'work lost'],
])} AS fence`;

interface Entry {
  readonly owner: number;
  readonly statements: readonly Statement[];
  readonly commits: boolean;
  readonly resolve: (results: QueryResult[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The transaction as each function of a group sees it: statements issued in
 * the same turn, by any of them, go out in one batch, the first behind the
 * end statement. A batch carries the COMMIT when every function still
 * running has issued the statement it commits with.
 */
class StatementCollector {
  readonly #tx: Queryable;
  readonly #end: Statement;
  readonly #signal: AbortSignal | undefined;
  readonly #done: boolean[];
  #pending: Entry[] = [];
  #scheduled = false;
  #endSent = false;
  committed = false;
  /** The first error of a batch: the transaction is aborted. */
  failure: unknown;

  constructor(tx: Queryable, end: Statement, owners: number, signal: AbortSignal | undefined) {
    this.#tx = tx;
    this.#end = end;
    this.#signal = signal;
    this.#done = Array.from({ length: owners }, () => false);
  }

  /** The Queryable finish `owner`'s function runs on. */
  view(owner: number): Queryable {
    const submit = (statements: readonly Statement[], opts: QueryOptions = {}) => this.#submit(owner, statements, opts.commits === true);
    return {
      query: async (sql, params, opts) => (await submit([{ sql, ...(params ? { params } : {}) }], opts))[0]! as QueryResult<never>,
      batch: (statements, opts) => submit(statements, opts),
      exec: async (sql, opts) => {
        await submit([], {});
        await this.#tx.exec(sql, { signal: opts?.signal ?? this.#signal });
      },
    };
  }

  /** Told when finish `owner`'s function settled: it issues nothing more. */
  done(owner: number): void {
    this.#done[owner] = true;
  }

  /** Sends the end statement if no batch carried it yet, with the COMMIT. */
  async settle(): Promise<void> {
    if (this.#endSent || this.committed) return;
    await this.#submit(-1, [], true);
  }

  #submit(owner: number, statements: readonly Statement[], commits: boolean): Promise<QueryResult[]> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ owner, statements, commits, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // The other functions' statements of this turn join the batch.
      queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const entries = this.#pending;
    this.#pending = [];
    const lead = this.#endSent ? [] : [this.#end];
    this.#endSent = true;
    const committing = (owner: number) => entries.some((e) => e.owner === owner && e.commits);
    const commits = entries.some((e) => e.commits) && this.#done.every((done, owner) => done || committing(owner));
    const statements = [...lead, ...entries.flatMap((e) => e.statements)];
    queryAll(this.#tx, statements, { signal: this.#signal, commits }).then(
      (results) => {
        if (commits) this.committed = true;
        let at = lead.length;
        for (const e of entries) {
          e.resolve(results.slice(at, at + e.statements.length));
          at += e.statements.length;
        }
      },
      (err: unknown) => {
        this.failure ??= err;
        for (const e of entries) e.reject(err);
      },
    );
  }
}

const outcome = (p: Promise<void>): Promise<GroupOutcome<void>> =>
  p.then(
    () => ({ ok: true, value: undefined }),
    (error: unknown) => ({ ok: false, error }),
  );

// The outcomes as the queue hands them out: a finished request is the value, so
// one whose caller stopped waiting can still be marked finished (discard).
const withRequests = (requests: readonly FinishRequest[], outcomes: readonly GroupOutcome<void>[]): GroupOutcome<FinishRequest>[] =>
  outcomes.map((o, i) => (o.ok ? { ok: true, value: requests[i]! } : o));

/**
 * Finishes `requests` (works of the session `sessionId`) in one transaction,
 * or, when that writes nothing, each alone; one outcome per request.
 */
export async function finishTogether(
  ctx: TransactContext,
  processor: Processor,
  sessionId: string,
  requests: readonly FinishRequest[],
  signal: AbortSignal | undefined,
): Promise<GroupOutcome<FinishRequest>[]> {
  if (requests.length > 1) {
    const together = await finishInOneTransaction(ctx, processor, sessionId, requests, signal).catch(() => undefined);
    if (together) return withRequests(requests, together);
  }
  return withRequests(requests, await Promise.all(requests.map((r) => outcome(r.alone()))));
}

/** The group transaction; throws when nothing of it was written. */
async function finishInOneTransaction(
  ctx: TransactContext,
  processor: Processor,
  sessionId: string,
  requests: readonly FinishRequest[],
  signal: AbortSignal | undefined,
): Promise<GroupOutcome<void>[]> {
  const end: Statement = { sql: END_WORKS, params: [requests.map((r) => r.machineId), requests.map((r) => r.process), sessionId] };
  const outcomes = await runTransaction(
    ctx,
    processor,
    async (tx) => {
      const collector = new StatementCollector(tx, end, requests.length, signal);
      const ran = await Promise.all(
        requests.map((r, owner) => {
          if (!r.fn) {
            collector.done(owner);
            return outcome(Promise.resolve());
          }
          const q = bindQueries(collector.view(owner));
          return outcome(r.fn(q).finally(() => collector.done(owner)));
        }),
      );
      if (collector.committed) return ran;
      if (collector.failure !== undefined) throw collector.failure;
      const failed = ran.find((o) => !o.ok);
      if (failed && !failed.ok) throw failed.error;
      await collector.settle();
      return ran;
    },
    { signal },
  );
  return outcomes;
}
