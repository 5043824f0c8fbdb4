// The derived state of each machine and when it entered it
// (docs/architecture.md#stuck-machines), from tags, work, backoffs and the
// history (the SQL is in machine-state-sql.ts). A machine in a state for longer than that
// state's limit is stuck: the stats exporter and webug list and count them.
import type { Queryable, QueryOptions } from '../driver.ts';
import { DEFAULT_RECOVERY_THRESHOLDS, type RecoveryThresholds } from './predicates.ts';
import { DEFAULT_STUCK_LIMITS, DERIVED_MACHINE_STATES, type DerivedMachineState, type StuckLimits } from './machine-state-limits.ts';
import { limitsSql, statesSql, stuckMachinesSql, type StuckSelection } from './machine-state-sql.ts';
import { SqlParams } from './sql-params.ts';

export interface DerivedStateRow {
  readonly machineId: string;
  readonly state: DerivedMachineState;
  readonly since: Date;
}

export interface StuckMachine extends DerivedStateRow {
  readonly limitSeconds: number;
}

/** A machine's state with its limit (null: this state has none) and whether it is past it. */
export interface MachineStateRow extends DerivedStateRow {
  readonly limitSeconds: number | null;
  readonly stuck: boolean;
}

const toRow = (r: Record<string, unknown>): DerivedStateRow => ({ machineId: r.machine_id as string, state: r.state as DerivedMachineState, since: r.since as Date });

/** The state of each given machine with its limit and whether it is stuck. */
export async function getMachineStates(
  db: Queryable,
  a: { machineIds: readonly string[]; thresholds?: RecoveryThresholds | undefined; limits?: StuckLimits | undefined },
  opts?: QueryOptions,
): Promise<MachineStateRow[]> {
  if (a.machineIds.length === 0) return [];
  const p = new SqlParams();
  const states = statesSql(p, a.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS);
  const r = await db.query(
    `SELECT st.*, l.limit_seconds, (l.limit_seconds IS NOT NULL AND st.since < now() - l.limit_seconds * interval '1 second') AS stuck
     FROM (${states}) st LEFT JOIN ${limitsSql(p, a.limits ?? DEFAULT_STUCK_LIMITS)} ON l.state = st.state
     WHERE st.machine_id = ANY(${p.add(a.machineIds, 'uuid[]')}) ORDER BY st.machine_id`,
    p.values,
    opts,
  );
  return r.rows.map((row) => ({ ...toRow(row), limitSeconds: row.limit_seconds === null ? null : Number(row.limit_seconds), stuck: row.stuck === true }));
}

/** The state of each given machine (or of all provided machines). */
export async function getDerivedStates(
  db: Queryable,
  a: { machineIds?: readonly string[]; thresholds?: RecoveryThresholds } = {},
  opts?: QueryOptions,
): Promise<DerivedStateRow[]> {
  const p = new SqlParams();
  const states = statesSql(p, a.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS);
  const where = a.machineIds ? `WHERE st.machine_id = ANY(${p.add(a.machineIds, 'uuid[]')})` : '';
  const r = await db.query(`SELECT * FROM (${states}) st ${where} ORDER BY st.machine_id`, p.values, opts);
  return r.rows.map(toRow);
}

/** Machines in a state for longer than its limit, longest first, at most `limit`. */
export async function listStuckMachines(
  db: Queryable,
  a: StuckSelection & { limit?: number } = {},
  opts?: QueryOptions,
): Promise<StuckMachine[]> {
  const p = new SqlParams();
  const stuck = stuckMachinesSql(p, a);
  const r = await db.query(`SELECT * FROM (${stuck}) st ORDER BY st.since, st.machine_id LIMIT ${p.add(a.limit ?? 1000, 'int')}`, p.values, opts);
  return r.rows.map((row) => ({ ...toRow(row), limitSeconds: Number(row.limit_seconds) }));
}

/** How many provided machines are in each state, and how many of them are stuck. */
export async function countMachinesByState(
  db: Queryable,
  a: { thresholds?: RecoveryThresholds; limits?: StuckLimits } = {},
  opts?: QueryOptions,
): Promise<Record<DerivedMachineState, { machines: number; stuck: number }>> {
  const p = new SqlParams();
  const states = statesSql(p, a.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS);
  const r = await db.query(
    `SELECT st.state, count(*)::int AS machines,
       count(*) FILTER (WHERE l.limit_seconds IS NOT NULL AND st.since < now() - l.limit_seconds * interval '1 second')::int AS stuck
     FROM (${states}) st LEFT JOIN ${limitsSql(p, a.limits ?? DEFAULT_STUCK_LIMITS)} ON l.state = st.state
     GROUP BY st.state`,
    p.values,
    opts,
  );
  const out = Object.fromEntries(DERIVED_MACHINE_STATES.map((st) => [st, { machines: 0, stuck: 0 }])) as Record<DerivedMachineState, { machines: number; stuck: number }>;
  for (const row of r.rows) out[row.state as DerivedMachineState] = { machines: Number(row.machines), stuck: Number(row.stuck) };
  return out;
}
