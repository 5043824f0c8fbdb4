// The work schedule (docs/architecture.md#work-schedule): per (machine,
// process) hints that let a candidate query read an index range instead of
// walking the fleet. Every write that can make a machine a candidate refreshes
// the machine's hints in its own transaction; a slow sweep repairs what a
// write missed (raw SQL, a bug, a race between two statements). A hint is
// only where to look: the candidate queries evaluate the full predicate on
// each row, so a wrong hint costs a row read and a missing one a late pick-up,
// never a wrong claim.
import type { Queryable, QueryOptions, Statement } from '../driver.ts';

/** The processes the schedule keeps hints for. */
export type ScheduledProcess = 'ShepherdAgentStart' | 'ShepherdRecovery';

/**
 * The hints the machines matching `filter` (an SQL condition over `mp`)
 * should have. Migration 0006 backfills with the same two selects.
 */
const wantedHints = (filter: string) => `
SELECT mp.machine_id, 'ShepherdAgentStart'::process AS process,
  COALESCE((SELECT b.until FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.process = 'ShepherdAgentStart'), m.machine_created_at) AS due_basis
FROM machine_provided mp JOIN machines m ON m.machine_id = mp.machine_id
WHERE ${filter} AND NOT EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id)
UNION ALL
SELECT mp.machine_id, 'ShepherdRecovery'::process, s.agent_started_at
FROM machine_provided mp JOIN machine_agent_started s ON s.machine_id = mp.machine_id
WHERE ${filter} AND NOT EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id)`;

const BY_IDS = 'mp.machine_id = ANY($1::uuid[])';

// Two statements, not one with two data-modifying CTEs on the same table
// (which CockroachDB refuses).
const DELETE_UNWANTED = `DELETE FROM machine_work_due d
WHERE d.machine_id = ANY($1::uuid[])
  AND NOT EXISTS (SELECT 1 FROM (${wantedHints(BY_IDS)}) w WHERE w.machine_id = d.machine_id AND w.process = d.process)`;

const UPSERT_WANTED = `INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT machine_id, process, due_basis FROM (${wantedHints(BY_IDS)}) w
ON CONFLICT (machine_id, process) DO UPDATE SET due_basis = excluded.due_basis
  WHERE machine_work_due.due_basis <> excluded.due_basis`;

/** Brings the hints of these machines in line with their tags (the sweep's step). Returns the number of hint rows changed. */
export async function refreshWorkDue(db: Queryable, a: { machineIds: readonly string[] }, opts?: QueryOptions): Promise<number> {
  if (a.machineIds.length === 0) return 0;
  const ids = [...a.machineIds];
  const deleted = await db.query(DELETE_UNWANTED, [ids], opts);
  const upserted = await db.query(UPSERT_WANTED, [ids], opts);
  return deleted.rowCount + upserted.rowCount;
}

// Targeted hint writes for the tag writes (one primary-key statement each,
// reading only the machine's own rows: at SERIALIZABLE a wider read would
// conflict with every concurrent claim).
const HINT_AGENT_START = `INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT m.machine_id, 'ShepherdAgentStart',
  COALESCE((SELECT b.until FROM work_backoff b WHERE b.machine_id = m.machine_id AND b.process = 'ShepherdAgentStart'), m.machine_created_at)
FROM machines m WHERE m.machine_id = $1 AND NOT EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = m.machine_id)
ON CONFLICT (machine_id, process) DO UPDATE SET due_basis = excluded.due_basis`;
const HINT_RECOVERY = `INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT s.machine_id, 'ShepherdRecovery', s.agent_started_at FROM machine_agent_started s WHERE s.machine_id = $1
ON CONFLICT (machine_id, process) DO UPDATE SET due_basis = excluded.due_basis`;
const UNHINT = 'DELETE FROM machine_work_due WHERE machine_id = $1 AND process = $2';

/**
 * `upsert`, an INSERT into machine_agent_started with no RETURNING clause,
 * made into one statement that also writes the machine's recovery hint, due
 * from the start time the upsert stored (first-heartbeat threshold). Taking
 * the time from the upsert's own row saves a statement and a read of the
 * table, which the planner, with statistics from when the table was small,
 * made a sequential scan. The two writes go to different tables (CockroachDB
 * refuses two to the same one), so the agent start hint is dropped apart:
 * unhintAgentStart.
 */
export function withRecoveryHint(upsert: string): string {
  return `WITH started AS (
${upsert}
RETURNING machine_id, agent_started_at
)
INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT machine_id, 'ShepherdRecovery', agent_started_at FROM started
ON CONFLICT (machine_id, process) DO UPDATE SET due_basis = excluded.due_basis`;
}

/** After the agent was started: no agent start hint (the recovery hint comes with the tag: withRecoveryHint). */
export function unhintAgentStart(a: { machineId: string }): Statement {
  return { sql: UNHINT, params: [a.machineId, 'ShepherdAgentStart'] };
}

/** The hint statements for after the AgentStarted tag went: no recovery hint; agent start is due (at the end of its backoff, if any). */
export function agentGoneHints(a: { machineId: string }): Statement[] {
  return [
    { sql: UNHINT, params: [a.machineId, 'ShepherdRecovery'] },
    { sql: HINT_AGENT_START, params: [a.machineId] },
  ];
}

/** After the heartbeat tag went: recovery is due from the agent start on, if there is one. */
export async function hintHeartbeatGone(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query(HINT_RECOVERY, [a.machineId], opts);
}

/** After the machine was provided: agent start is due unless its agent was started. */
export async function hintProvided(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query(HINT_AGENT_START, [a.machineId], opts);
}

/** After a backoff was stored: an agent start hint moves to the backoff's end (recovery hints keep their basis). */
export async function hintBackoff(db: Queryable, a: { machineId: string; process: string }, opts?: QueryOptions): Promise<void> {
  if (a.process !== 'ShepherdAgentStart') return;
  await db.query(
    `UPDATE machine_work_due d SET due_basis = b.until FROM work_backoff b
     WHERE d.machine_id = $1 AND d.process = 'ShepherdAgentStart' AND b.machine_id = d.machine_id AND b.process = d.process`,
    [a.machineId],
    opts,
  );
}

export interface SweepArgs {
  /** Machine id the previous sweep ended at; null starts from the beginning. */
  after: string | null;
  /** Machines per sweep: the bound on its work. */
  limit: number;
}

export interface SweepResult {
  /** Where the next sweep starts; null when this one reached the end of the fleet. */
  next: string | null;
  /** Hint rows changed. */
  repaired: number;
}

/**
 * One bounded step of the repair sweep: drops recovery hints of agents that
 * heartbeated since (the heartbeat write leaves them, to stay one statement),
 * then refreshes the hints of the next `limit` provided machines in id order.
 * Called over and over with the returned cursor it covers the whole fleet.
 */
export async function sweepWorkDue(db: Queryable, a: SweepArgs, opts?: QueryOptions): Promise<SweepResult> {
  const heartbeated = await db.query(
    `DELETE FROM machine_work_due WHERE (machine_id, process) IN (
       SELECT d.machine_id, d.process FROM machine_work_due d
       WHERE d.process = 'ShepherdRecovery' AND EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = d.machine_id)
       ORDER BY d.due_basis LIMIT $1)`,
    [a.limit],
    opts,
  );
  const r = await db.query(
    `SELECT machine_id FROM machine_provided WHERE ($1::uuid IS NULL OR machine_id > $1::uuid) ORDER BY machine_id LIMIT $2`,
    [a.after, a.limit],
    opts,
  );
  const ids = r.rows.map((row) => row.machine_id as string);
  const repaired = heartbeated.rowCount + (await refreshWorkDue(db, { machineIds: ids }, opts));
  return { next: ids.length < a.limit ? null : ids[ids.length - 1]!, repaired };
}
