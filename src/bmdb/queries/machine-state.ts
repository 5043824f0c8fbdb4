// The derived state of each machine and when it entered it
// (docs/architecture.md#stuck-machines), from tags, work, backoffs and the
// history, written once as SQL. A machine in a state for longer than that
// state's limit is stuck: the stats exporter and webug list and count them.
import type { Queryable, QueryOptions } from '../driver.ts';
import { SHEPHERD_PROCESSES } from '../model.ts';
import { DEFAULT_RECOVERY_THRESHOLDS, recoveryPredicate, type RecoveryThresholds } from './predicates.ts';
import { DEFAULT_STUCK_LIMITS, DERIVED_MACHINE_STATES, type DerivedMachineState, type StuckLimits } from './machine-state-limits.ts';
import { SqlParams } from './sql-params.ts';

export interface DerivedStateRow {
  readonly machineId: string;
  readonly state: DerivedMachineState;
  readonly since: Date;
}

export interface StuckMachine extends DerivedStateRow {
  readonly limitSeconds: number;
}

const processes = SHEPHERD_PROCESSES.map((p) => `'${p}'`).join(', ');
const historyAt = (agg: 'min' | 'max', process: string, event: string, extra = '') =>
  `(SELECT ${agg}(wh.timestamp) FROM work_history wh WHERE wh.machine_id = mp.machine_id AND wh.process = ${process} AND wh.event = '${event}'${extra})`;

/**
 * One row per provided machine: its state and since when. The order of the
 * CASE is the precedence: quarantine over held work over backoff over the tags.
 * Backing off counts from the first failure since the last success, so a
 * machine that keeps failing stays in it across its retries.
 */
function statesSql(p: SqlParams, t: RecoveryThresholds): string {
  const silent = recoveryPredicate(t).find((c) => c.id === 'agent-silent')!.sql(p);
  const lastFinished = (process: string) => historyAt('max', process, 'Finished');
  return `SELECT mp.machine_id, x.state,
  CASE x.state
    WHEN 'quarantined' THEN mq.quarantined_since
    WHEN 'recovering' THEN ${historyAt('max', 'w.process', 'Started')}
    WHEN 'starting-agent' THEN COALESCE(${historyAt('max', 'w.process', 'Started')}, s.agent_started_at)
    WHEN 'backing-off' THEN COALESCE(${historyAt('min', 'b.process', 'Failed', ` AND wh.timestamp > COALESCE(${lastFinished('b.process')}, '1970-01-01'::timestamptz)`)}, now())
    WHEN 'awaiting-agent-start' THEN GREATEST(m.machine_created_at, COALESCE(${lastFinished("'ShepherdRecovery'")}, m.machine_created_at))
    WHEN 'paused' THEN GREATEST(COALESCE(h.agent_heartbeat_at, s.agent_started_at), g.storm_since)
    WHEN 'silent' THEN COALESCE(h.agent_heartbeat_at, s.agent_started_at)
    ELSE s.agent_started_at
  END AS since
FROM machine_provided mp
JOIN machines m ON m.machine_id = mp.machine_id
LEFT JOIN machine_quarantined mq ON mq.machine_id = mp.machine_id
LEFT JOIN machine_agent_started s ON s.machine_id = mp.machine_id
LEFT JOIN machine_agent_heartbeat h ON h.machine_id = mp.machine_id
LEFT JOIN recovery_storm_guard g ON g.guard_id = 1
LEFT JOIN LATERAL (SELECT w.process FROM work w WHERE w.machine_id = mp.machine_id AND w.process IN (${processes})
  ORDER BY (w.process = 'ShepherdRecovery') DESC LIMIT 1) w ON true
LEFT JOIN LATERAL (SELECT b.process FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.until > now() AND b.process IN (${processes})
  ORDER BY b.until DESC LIMIT 1) b ON true
CROSS JOIN LATERAL (SELECT CASE
    WHEN mq.machine_id IS NOT NULL THEN 'quarantined'
    WHEN w.process = 'ShepherdRecovery' THEN 'recovering'
    WHEN w.process IS NOT NULL THEN 'starting-agent'
    WHEN b.process IS NOT NULL THEN 'backing-off'
    WHEN s.machine_id IS NULL THEN 'awaiting-agent-start'
    WHEN ${silent} THEN CASE WHEN g.storm_reason IS NOT NULL THEN 'paused' ELSE 'silent' END
    WHEN h.machine_id IS NULL THEN 'starting-agent'
    ELSE 'heartbeating'
  END AS state) x`;
}

// The limits as a VALUES list to join on; states without a limit are left out.
function limitsSql(p: SqlParams, limits: StuckLimits): string {
  const rows = DERIVED_MACHINE_STATES.filter((st) => limits[st] !== null).map((st) => `(${p.add(st, 'text')}, ${p.add(limits[st], 'float8')})`);
  return rows.length ? `(VALUES ${rows.join(', ')}) AS l (state, limit_seconds)` : '(SELECT NULL::text AS state, NULL::float8 AS limit_seconds WHERE false) AS l';
}

const toRow = (r: Record<string, unknown>): DerivedStateRow => ({ machineId: r.machine_id as string, state: r.state as DerivedMachineState, since: r.since as Date });

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
  a: { thresholds?: RecoveryThresholds; limits?: StuckLimits; limit?: number } = {},
  opts?: QueryOptions,
): Promise<StuckMachine[]> {
  const p = new SqlParams();
  const states = statesSql(p, a.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS);
  const r = await db.query(
    `SELECT st.*, l.limit_seconds FROM (${states}) st JOIN ${limitsSql(p, a.limits ?? DEFAULT_STUCK_LIMITS)} ON l.state = st.state
     WHERE st.since < now() - l.limit_seconds * interval '1 second'
     ORDER BY st.since, st.machine_id LIMIT ${p.add(a.limit ?? 1000, 'int')}`,
    p.values,
    opts,
  );
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
