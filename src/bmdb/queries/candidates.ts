// Candidate queries: machines a control loop may claim next
// (docs/architecture.md#work-schedule). They read an index range of hints,
// the work schedule or, for silence after a heartbeat, the heartbeat times,
// and evaluate the full workflow predicate on each row the range yields: a
// healthy fleet answers "nothing" after an empty range, at any size. Rows are
// taken oldest-due first and locked with SKIP LOCKED, so parallel workers
// take the next row instead of queueing on the same one.
import type { Queryable, QueryOptions } from '../driver.ts';
import { AGENT_START_RANGE, scanSql, type CandidateArgs, type Range } from './candidate-scan.ts';
import { agentStartPredicate, DEFAULT_RECOVERY_THRESHOLDS, recoveryPredicate, type Clause, type RecoveryThresholds } from './predicates.ts';
import { toMachineProvided, type MachineProvided } from './rows.ts';
import { SqlParams } from './sql-params.ts';

export type { CandidateArgs } from './candidate-scan.ts';

async function scan(db: Queryable, range: Range, clauses: readonly Clause[], args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  const p = new SqlParams();
  const r = await db.query(scanSql(p, range, clauses, args), p.values, opts);
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
  return getCandidates(db, [AGENT_START_RANGE], agentStartPredicate, args, opts);
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
