// Candidate queries: machines a control loop may claim next
// (docs/architecture.md#work-schedule). They read an index range of hints,
// the work schedule or, for silence after a heartbeat, the heartbeat times,
// and evaluate the full workflow predicate on each row the range yields: a
// healthy fleet answers "nothing" after an empty range, at any size. Rows are
// taken oldest-due first and locked with SKIP LOCKED, so parallel workers
// take the next row instead of queueing on the same one.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Provider } from '../model.ts';
import { agentStartPredicate, DEFAULT_RECOVERY_THRESHOLDS, recoveryPredicate, whereAll, type Clause, type RecoveryThresholds } from './predicates.ts';
import { PROVIDED_COLUMNS, toMachineProvided, type MachineProvided } from './rows.ts';
import { SqlParams } from './sql-params.ts';
import type { ScheduledProcess } from './work-due.ts';

export interface CandidateArgs {
  provider: Provider;
  limit: number;
}

/** Where a candidate query looks: an index range and the order it is read in. */
type Range =
  | { readonly from: 'schedule'; readonly process: ScheduledProcess; readonly thresholdSeconds: number }
  | { readonly from: 'heartbeat'; readonly silenceSeconds: number };

async function scan(db: Queryable, range: Range, clauses: readonly Clause[], args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  const p = new SqlParams();
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
  const sql = `SELECT c.*
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
  const r = await db.query(sql, p.values, opts);
  return r.rows.map(toMachineProvided);
}

/** Provided machines of a provider that satisfy every clause, found through the ranges in turn, at most `limit`. */
async function getCandidates(db: Queryable, ranges: readonly Range[], clauses: readonly Clause[], args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  const found: MachineProvided[] = [];
  for (const range of ranges) {
    if (found.length >= args.limit) break;
    const rows = await scan(db, range, clauses, { ...args, limit: args.limit - found.length }, opts);
    // A machine can be in two ranges; it is returned once.
    for (const row of rows) if (!found.some((f) => f.machineId === row.machineId)) found.push(row);
  }
  return found;
}

/** Machines on which the agent should be started (docs/architecture.md#workflow-predicates). */
export function getAgentStartCandidates(db: Queryable, args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  return getCandidates(db, [{ from: 'schedule', process: 'ShepherdAgentStart', thresholdSeconds: 0 }], agentStartPredicate, args, opts);
}

/** Machines whose agent never heartbeated or went silent (docs/architecture.md#workflow-predicates). */
export function getRecoveryCandidates(
  db: Queryable,
  args: CandidateArgs & { thresholds?: RecoveryThresholds },
  opts?: QueryOptions,
): Promise<MachineProvided[]> {
  const t = args.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS;
  const ranges: Range[] = [
    { from: 'schedule', process: 'ShepherdRecovery', thresholdSeconds: t.noHeartbeatAfterStartSeconds },
    { from: 'heartbeat', silenceSeconds: t.silenceSeconds },
  ];
  return getCandidates(db, ranges, recoveryPredicate(t), { provider: args.provider, limit: args.limit }, opts);
}
