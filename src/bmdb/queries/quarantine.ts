// Quarantine and attempt counters (docs/architecture.md#recovery-guards).
// A quarantined machine satisfies no shepherd predicate (the `not-quarantined`
// clause) until it is released; the counters say how often a process tried a
// machine without success.
import type { Queryable, QueryOptions, Statement } from '../driver.ts';
import type { Process } from '../model.ts';

export interface Quarantine {
  readonly machineId: string;
  readonly reason: string;
  readonly since: Date;
  readonly by: string;
}

export interface Attempts {
  /** Attempts that count now (for recovery: 0 once a heartbeat came after the last one). */
  readonly attempts: number;
  readonly lastAttemptAt: Date;
  /** The newest causes first, separated by ` | `. */
  readonly lastCauses: string;
}

// For recovery, a heartbeat newer than the last attempt means the reboot
// worked: the count starts again. (Recovery deletes the heartbeat tag, so a
// heartbeat row newer than the attempt can only come from the restarted agent.)
const HEARTBEAT_SINCE = `EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = a.machine_id AND h.agent_heartbeat_at > a.last_attempt_at)`;
const EFFECTIVE_ATTEMPTS = `CASE WHEN a.process = 'ShepherdRecovery' AND ${HEARTBEAT_SINCE} THEN 0 ELSE a.attempts END`;

// Keeps the last causes bounded: the newest in front, at most this many characters.
const CAUSES_CHARS = 1000;

/** The machine's attempts of `process` that have not led to success yet; 0 when none. */
export async function getAttempts(db: Queryable, a: { machineId: string; process: Process }, opts?: QueryOptions): Promise<Attempts | undefined> {
  const r = await db.query(
    `SELECT ${EFFECTIVE_ATTEMPTS} AS attempts, a.last_attempt_at, a.last_causes FROM machine_attempts a WHERE a.machine_id = $1 AND a.process = $2`,
    [a.machineId, a.process],
    opts,
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return { attempts: Number(row.attempts), lastAttemptAt: row.last_attempt_at as Date, lastCauses: row.last_causes as string };
}

/** Counts one more attempt with its cause (recovery starts again from 1 after a heartbeat); returns the new count. */
export async function recordAttempt(db: Queryable, a: { machineId: string; process: Process; cause: string }, opts?: QueryOptions): Promise<Attempts> {
  const r = await db.query(
    `INSERT INTO machine_attempts AS a (machine_id, process, attempts, last_attempt_at, last_causes)
     VALUES ($1, $2, 1, now(), left($3, ${CAUSES_CHARS}))
     ON CONFLICT (machine_id, process) DO UPDATE SET
       attempts = (${EFFECTIVE_ATTEMPTS}) + 1,
       last_attempt_at = now(),
       last_causes = CASE WHEN (${EFFECTIVE_ATTEMPTS}) = 0 THEN left($3, ${CAUSES_CHARS}) ELSE left($3 || ' | ' || a.last_causes, ${CAUSES_CHARS}) END
     RETURNING a.attempts, a.last_attempt_at, a.last_causes`,
    [a.machineId, a.process, a.cause],
    opts,
  );
  const row = r.rows[0]!;
  return { attempts: Number(row.attempts), lastAttemptAt: row.last_attempt_at as Date, lastCauses: row.last_causes as string };
}

/**
 * Makes the lazy reset of the recovery count explicit: deletes the count when a
 * heartbeat came after its last attempt. For a writer about to move the
 * heartbeat time back (the recover action ages it), which would otherwise hide
 * that heartbeat and make the next reboot escalate as if none had come.
 */
export async function settleRecoveryAttempts(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query(`DELETE FROM machine_attempts a WHERE a.machine_id = $1 AND a.process = 'ShepherdRecovery' AND ${HEARTBEAT_SINCE}`, [a.machineId], opts);
}

/** Forgets the machine's attempts (of one process, or all). */
export async function clearAttempts(db: Queryable, a: { machineId: string; process?: Process }, opts?: QueryOptions): Promise<void> {
  const s = clearAttemptsStatement(a);
  await db.query(s.sql, s.params, opts);
}

/** clearAttempts as a statement, for a batch (queryAll). */
export function clearAttemptsStatement(a: { machineId: string; process?: Process }): Statement {
  return { sql: 'DELETE FROM machine_attempts WHERE machine_id = $1 AND ($2::process IS NULL OR process = $2::process)', params: [a.machineId, a.process ?? null] };
}

/** Quarantines the machine unless it already is; returns whether this call did it. Writes quarantine_history. */
export async function quarantineMachine(db: Queryable, a: { machineId: string; reason: string; by: string }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query(
    `WITH q AS (
       INSERT INTO machine_quarantined (machine_id, quarantine_reason, quarantined_by) VALUES ($1, $2, $3)
       ON CONFLICT (machine_id) DO NOTHING RETURNING machine_id
     )
     INSERT INTO quarantine_history (machine_id, quarantine_event, quarantine_reason, quarantine_by, timestamp)
     SELECT machine_id, 'Quarantined', $2, $3, clock_timestamp() FROM q`,
    [a.machineId, a.reason, a.by],
    opts,
  );
  return r.rowCount > 0;
}

/**
 * Releases a quarantined machine: removes the tag and clears its attempt
 * counters, so every workflow treats it afresh. Returns whether it was quarantined.
 */
export async function releaseMachine(db: Queryable, a: { machineId: string; by: string; reason?: string }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query(
    `WITH q AS (DELETE FROM machine_quarantined WHERE machine_id = $1 RETURNING machine_id),
     c AS (DELETE FROM machine_attempts WHERE machine_id = $1 AND EXISTS (SELECT 1 FROM q))
     INSERT INTO quarantine_history (machine_id, quarantine_event, quarantine_reason, quarantine_by, timestamp)
     SELECT machine_id, 'Released', $2, $3, clock_timestamp() FROM q`,
    [a.machineId, a.reason ?? 'released', a.by],
    opts,
  );
  return r.rowCount > 0;
}

export async function getQuarantine(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<Quarantine | undefined> {
  const r = await db.query('SELECT machine_id, quarantine_reason, quarantined_since, quarantined_by FROM machine_quarantined WHERE machine_id = $1', [a.machineId], opts);
  const row = r.rows[0];
  if (!row) return undefined;
  return { machineId: row.machine_id as string, reason: row.quarantine_reason as string, since: row.quarantined_since as Date, by: row.quarantined_by as string };
}

export async function countMachinesQuarantined(db: Queryable, opts?: QueryOptions): Promise<number> {
  const r = await db.query('SELECT count(*)::int AS n FROM machine_quarantined', [], opts);
  return Number(r.rows[0]!.n);
}
