// The text of a candidate query (candidates.ts): one index range of hints
// read in order, the full workflow predicate evaluated on each row, the
// machine row locked with SKIP LOCKED. Also given as a statement for
// Session.claim, which wraps it in its claim statement. Kept apart from
// candidates.ts, whose every export is a bound query.
import type { Provider } from '../model.ts';
import { agentStartPredicate, whereAll, type Clause } from './predicates.ts';
import { PROVIDED_COLUMNS, toMachineProvided, type MachineProvided } from './rows.ts';
import { SqlParams } from './sql-params.ts';
import type { ScheduledProcess } from './work-due.ts';

export interface CandidateArgs {
  provider: Provider;
  limit: number;
}

/** Where a candidate query looks: an index range and the order it is read in. */
export type Range =
  | { readonly from: 'schedule'; readonly process: ScheduledProcess; readonly thresholdSeconds: number }
  | { readonly from: 'heartbeat'; readonly silenceSeconds: number };

/** The text of a candidate query over `range`, its parameters added to `p`. */
export function scanSql(p: SqlParams, range: Range, clauses: readonly Clause[], args: CandidateArgs): string {
  const [source, due, order] =
    range.from === 'schedule'
      ? [
          'machine_work_due d',
          `d.process = ${p.add(range.process, 'process')} AND d.due_basis <= now() - ${p.add(range.thresholdSeconds, 'int')} * interval '1 second'`,
          'd.due_basis, d.machine_id',
        ]
      : ['machine_agent_heartbeat d', `d.agent_heartbeat_at < now() - ${p.add(range.silenceSeconds, 'int')} * interval '1 second'`, 'd.agent_heartbeat_at, d.machine_id'];
  // The machine row is looked up, checked and locked in a LATERAL subquery
  // per range row. A locking subquery is never merged into the outer query,
  // so the plan is fixed: walk the range index in order, one primary-key
  // lookup per row, stop at the limit. As one join, the planner may instead
  // filter the whole machine_provided table first whenever its statistics
  // make the predicate look selective (tens of milliseconds per poll with a
  // few thousand machines, seen in the claim bench).
  // The limit is part of the text, not a parameter: with a parameter the
  // generic plan of this prepared statement assumes a tenth of the range is
  // wanted, so PostgreSQL re-plans every call (planning then costs more than
  // the execution); with LIMIT 1 spelled out the cached plan is used.
  if (!Number.isSafeInteger(args.limit) || args.limit < 1) throw new RangeError(`candidate limit must be a positive integer, got ${args.limit}`);
  return `SELECT c.*
FROM ${source}
CROSS JOIN LATERAL (
  SELECT ${PROVIDED_COLUMNS}
  FROM machine_provided mp
  WHERE mp.machine_id = d.machine_id
    AND mp.provider = ${p.add(args.provider, 'provider')}
    AND ${whereAll(clauses, p, { perRow: true })}
  FOR UPDATE OF mp SKIP LOCKED
) c
WHERE ${due}
ORDER BY ${order}
LIMIT ${args.limit}`;
}

/**
 * A candidate query for at most one machine, as a fixed statement for
 * Session.claim to wrap in its claim statement: `sql` numbers its parameters
 * from $1, `row` maps a result row (which has the claim's columns too).
 * Build it once and reuse it: the claim statement's text is kept per
 * candidate statement.
 */
export interface CandidateStatement<R> {
  readonly sql: string;
  readonly params: readonly unknown[];
  row(r: Record<string, unknown>): R;
  /**
   * The same query for at most `limit` machines, with the same parameters.
   * When given, a session's claims through this statement that wait at the
   * same time go out together in one statement (Session.claim).
   */
  readonly sqlFor?: (limit: number) => string;
}

export const AGENT_START_RANGE: Range = { from: 'schedule', process: 'ShepherdAgentStart', thresholdSeconds: 0 };

/** getAgentStartCandidates for one machine, as a statement for Session.claim (the same text with LIMIT 1; sqlFor for more). */
export function agentStartCandidateStatement(args: { provider: Provider }): CandidateStatement<MachineProvided> {
  const p = new SqlParams();
  const sql = scanSql(p, AGENT_START_RANGE, agentStartPredicate, { provider: args.provider, limit: 1 });
  // A fresh SqlParams adds the same parameters in the same order: only the limit differs.
  const sqlFor = (limit: number) => scanSql(new SqlParams(), AGENT_START_RANGE, agentStartPredicate, { provider: args.provider, limit });
  return Object.freeze({ sql, params: Object.freeze(p.values), row: toMachineProvided, sqlFor });
}
