// The SQL of the derived machine states (docs/architecture.md#stuck-machines),
// written once: the typed queries in machine-state.ts run it, and other
// queries (webug's fleet list) filter by the stuck subquery.
import { SHEPHERD_PROCESSES } from '../model.ts';
import { DEFAULT_RECOVERY_THRESHOLDS, recoveryPredicate, type RecoveryThresholds } from './predicates.ts';
import { DEFAULT_STUCK_LIMITS, DERIVED_MACHINE_STATES, type DerivedMachineState, type StuckLimits } from './machine-state-limits.ts';
import type { SqlParams } from './sql-params.ts';

const processes = SHEPHERD_PROCESSES.map((p) => `'${p}'`).join(', ');
const historyAt = (agg: 'min' | 'max', process: string, event: string, extra = '') =>
  `(SELECT ${agg}(wh.timestamp) FROM work_history wh WHERE wh.machine_id = mp.machine_id AND wh.process = ${process} AND wh.event = '${event}'${extra})`;

/**
 * One row per provided machine: its state and since when. The order of the
 * CASE is the precedence: quarantine over held work over backoff over the tags.
 * Backing off counts from the first failure since the last success, so a
 * machine that keeps failing stays in it across its retries.
 */
export function statesSql(p: SqlParams, t: RecoveryThresholds): string {
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
export function limitsSql(p: SqlParams, limits: StuckLimits): string {
  const rows = DERIVED_MACHINE_STATES.filter((st) => limits[st] !== null).map((st) => `(${p.add(st, 'text')}, ${p.add(limits[st], 'float8')})`);
  return rows.length ? `(VALUES ${rows.join(', ')}) AS l (state, limit_seconds)` : '(SELECT NULL::text AS state, NULL::float8 AS limit_seconds WHERE false) AS l';
}

export interface StuckSelection {
  readonly thresholds?: RecoveryThresholds | undefined;
  readonly limits?: StuckLimits | undefined;
  /** Only machines stuck in this state; default any state. */
  readonly state?: DerivedMachineState | undefined;
}

/**
 * A subquery of the stuck machines (columns machine_id, state, since,
 * limit_seconds), for other queries to filter by (webug's fleet list, the
 * CLI's --stuck): the one definition of "stuck".
 */
export function stuckMachinesSql(p: SqlParams, a: StuckSelection = {}): string {
  const states = statesSql(p, a.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS);
  const all = `SELECT st.machine_id, st.state, st.since, l.limit_seconds FROM (${states}) st JOIN ${limitsSql(p, a.limits ?? DEFAULT_STUCK_LIMITS)} ON l.state = st.state
     WHERE st.since < now() - l.limit_seconds * interval '1 second'`;
  if (!a.state) return all;
  // One state: filtered after the query for all of them. Pushed into the CASE
  // (which PostgreSQL does without the OFFSET 0 fence) it made one state four
  // times slower than all of them at 20,000 machines. CockroachDB ignores it.
  return `SELECT * FROM (${all} OFFSET 0) one WHERE one.state = ${p.add(a.state, 'text')}`;
}

