// Fleet-wide counts for the stats exporter. The "pending" counts use the same
// clause lists as the candidate queries (predicates.ts), across all providers.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Process } from '../model.ts';
import {
  agentStartPredicate,
  heartbeatingClause,
  installedClause,
  pendingInstallationClause,
  recoveryPredicate,
  whereAll,
  type Clause,
  type RecoveryThresholds,
} from './predicates.ts';
import { SqlParams } from './sql-params.ts';

/** Provided machines satisfying every clause. */
export async function countProvidedWhere(db: Queryable, clauses: readonly Clause[], opts?: QueryOptions): Promise<number> {
  const p = new SqlParams();
  const where = clauses.length ? `WHERE ${whereAll(clauses, p)}` : '';
  const r = await db.query(`SELECT count(*)::int AS n FROM machine_provided mp ${where}`, p.values, opts);
  return Number(r.rows[0]!.n);
}

export async function countMachines(db: Queryable, opts?: QueryOptions): Promise<number> {
  const r = await db.query('SELECT count(*)::int AS n FROM machines', [], opts);
  return Number(r.rows[0]!.n);
}

export function countMachinesProvided(db: Queryable, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, [], opts);
}

export function countMachinesHeartbeating(db: Queryable, a: { thresholds?: RecoveryThresholds } = {}, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, [heartbeatingClause(a.thresholds)], opts);
}

export function countMachinesPendingInstallation(db: Queryable, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, [pendingInstallationClause], opts);
}

export function countMachinesInstalled(db: Queryable, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, [installedClause], opts);
}

export function countMachinesPendingAgentStart(db: Queryable, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, agentStartPredicate, opts);
}

export function countMachinesPendingAgentRecovery(db: Queryable, a: { thresholds?: RecoveryThresholds } = {}, opts?: QueryOptions): Promise<number> {
  return countProvidedWhere(db, recoveryPredicate(a.thresholds), opts);
}

/** Unexpired backoffs per process (expired ones are history, not state). */
export async function countActiveBackoffs(db: Queryable, opts?: QueryOptions): Promise<Array<{ process: Process; count: number }>> {
  const r = await db.query('SELECT process, count(*)::int AS n FROM work_backoff WHERE until > now() GROUP BY process ORDER BY process', [], opts);
  return r.rows.map((row) => ({ process: row.process as Process, count: Number(row.n) }));
}

/** Work currently held, per process. */
export async function countActiveWork(db: Queryable, opts?: QueryOptions): Promise<Array<{ process: Process; count: number }>> {
  const r = await db.query('SELECT process, count(*)::int AS n FROM work GROUP BY process ORDER BY process', [], opts);
  return r.rows.map((row) => ({ process: row.process as Process, count: Number(row.n) }));
}

/** Live sessions (deadline in the future) per component name. */
export async function countLiveSessions(db: Queryable, opts?: QueryOptions): Promise<Array<{ component: string; count: number }>> {
  const r = await db.query('SELECT session_component_name AS component, count(*)::int AS n FROM sessions WHERE session_deadline > now() GROUP BY 1 ORDER BY 1', [], opts);
  return r.rows.map((row) => ({ component: String(row.component), count: Number(row.n) }));
}
