// Candidate queries: machines a control loop may claim next. They lock the
// rows they return with SKIP LOCKED and start scanning at a random machine id,
// so parallel workers spread over the fleet instead of racing for one row.
import { randomUUID } from 'node:crypto';
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Provider } from '../model.ts';
import { agentStartPredicate, recoveryPredicate, whereAll, type Clause, type RecoveryThresholds } from './predicates.ts';
import { PROVIDED_COLUMNS, toMachineProvided, type MachineProvided } from './rows.ts';
import { SqlParams } from './sql-params.ts';

export interface CandidateArgs {
  provider: Provider;
  limit: number;
  /** Where the scan starts (a machine id); random when not given. */
  startAt?: string;
}

/** Provided machines of a provider that satisfy every clause, at most `limit`. */
export async function getCandidates(db: Queryable, clauses: readonly Clause[], args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  const startAt = args.startAt ?? randomUUID();
  const scan = async (range: '>=' | '<', limit: number) => {
    const p = new SqlParams();
    const sql = `SELECT ${PROVIDED_COLUMNS}
FROM machine_provided mp
WHERE mp.provider = ${p.add(args.provider, 'provider')}
  AND mp.machine_id ${range} ${p.add(startAt, 'uuid')}
  AND ${whereAll(clauses, p, { perRow: true })}
ORDER BY mp.machine_id
LIMIT ${p.add(limit, 'int')}
FOR UPDATE OF mp SKIP LOCKED`;
    const r = await db.query(sql, p.values, opts);
    return r.rows.map(toMachineProvided);
  };
  const first = await scan('>=', args.limit);
  if (first.length >= args.limit) return first;
  // Wrap around to the part of the id space before the random start.
  return first.concat(await scan('<', args.limit - first.length));
}

/** Machines on which the agent should be started (docs/architecture.md#workflow-predicates). */
export function getAgentStartCandidates(db: Queryable, args: CandidateArgs, opts?: QueryOptions): Promise<MachineProvided[]> {
  return getCandidates(db, agentStartPredicate, args, opts);
}

/** Machines whose agent never heartbeated or went silent (docs/architecture.md#workflow-predicates). */
export function getRecoveryCandidates(
  db: Queryable,
  args: CandidateArgs & { thresholds?: RecoveryThresholds },
  opts?: QueryOptions,
): Promise<MachineProvided[]> {
  return getCandidates(db, recoveryPredicate(args.thresholds), args, opts);
}
