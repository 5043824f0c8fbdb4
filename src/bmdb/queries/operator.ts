// Reads and writes that only operator actions (src/actions) need: finding a
// machine by what an operator types, locking it for the action, and the
// deletions the shepherd itself never makes.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Process, Provider } from '../model.ts';
import { refreshWorkDue } from './work-due.ts';

export interface MachineRef {
  machineId: string;
  provider: Provider | null;
  providerId: string | null;
}

const toRef = (r: Record<string, unknown>): MachineRef => ({
  machineId: r.machine_id as string,
  provider: (r.provider as Provider | null) ?? null,
  providerId: (r.provider_id as string | null) ?? null,
});

/**
 * Machines an operator's selector names: the machine id itself, a machine id
 * prefix (hex digits and dashes), or a provider id (exact). At most `limit`
 * rows, by machine id.
 */
export async function findMachines(db: Queryable, a: { selector: string; limit: number }, opts?: QueryOptions): Promise<MachineRef[]> {
  const s = a.selector.toLowerCase();
  const prefix = /^[0-9a-f-]{1,36}$/.test(s) ? `${s}%` : null;
  const r = await db.query(
    `SELECT m.machine_id, mp.provider, mp.provider_id FROM machines m LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
     WHERE ($1::text IS NOT NULL AND m.machine_id::text LIKE $1) OR mp.provider_id = $2
     ORDER BY m.machine_id LIMIT $3`,
    [prefix, a.selector, a.limit],
    opts,
  );
  return r.rows.map(toRef);
}

export interface MachineFacts extends MachineRef {
  agentStartedAt: Date | null;
  heartbeatAt: Date | null;
  hostKeyFingerprint: string | null;
  /** A Quarantined tag (migration 5) is present. */
  quarantined: boolean;
  installationRequestGeneration: number | null;
  installationReportGeneration: number | null;
  /** Work held right now, by process. */
  work: Array<{ process: Process; sessionId: string }>;
  /** Backoffs stored (expired ones included), by process. */
  backoffs: Array<{ process: Process; until: Date; active: boolean }>;
}

/**
 * Locks the machine row (FOR UPDATE: two actions on one machine take turns)
 * and reads the facts the actions decide on; null when there is no such machine.
 */
export async function lockMachineFacts(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<MachineFacts | null> {
  const m = await db.query('SELECT machine_id FROM machines WHERE machine_id = $1 FOR UPDATE', [a.machineId], opts);
  if (m.rows.length === 0) return null;
  const r = await db.query(
    `SELECT m.machine_id, mp.provider, mp.provider_id, s.agent_started_at, h.agent_heartbeat_at, k.ssh_host_key_fingerprint,
       rq.generation AS request_generation, rp.generation AS report_generation,
       EXISTS (SELECT 1 FROM machine_quarantined qt WHERE qt.machine_id = m.machine_id) AS quarantined
     FROM machines m
     LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
     LEFT JOIN machine_agent_started s ON s.machine_id = m.machine_id
     LEFT JOIN machine_agent_heartbeat h ON h.machine_id = m.machine_id
     LEFT JOIN machine_ssh_host_key k ON k.machine_id = m.machine_id
     LEFT JOIN machine_os_installation_request rq ON rq.machine_id = m.machine_id
     LEFT JOIN machine_os_installation_report rp ON rp.machine_id = m.machine_id
     WHERE m.machine_id = $1`,
    [a.machineId],
    opts,
  );
  const row = r.rows[0]!;
  const work = await db.query('SELECT process, session_id FROM work WHERE machine_id = $1 ORDER BY process', [a.machineId], opts);
  const backoffs = await db.query('SELECT process, until, until > now() AS active FROM work_backoff WHERE machine_id = $1 ORDER BY process', [a.machineId], opts);
  const gen = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    ...toRef(row),
    agentStartedAt: (row.agent_started_at as Date | null) ?? null,
    heartbeatAt: (row.agent_heartbeat_at as Date | null) ?? null,
    hostKeyFingerprint: (row.ssh_host_key_fingerprint as string | null) ?? null,
    quarantined: row.quarantined === true,
    installationRequestGeneration: gen(row.request_generation),
    installationReportGeneration: gen(row.report_generation),
    work: work.rows.map((w) => ({ process: w.process as Process, sessionId: w.session_id as string })),
    backoffs: backoffs.rows.map((b) => ({ process: b.process as Process, until: b.until as Date, active: b.active as boolean })),
  };
}

/**
 * Deletes a machine's backoffs, of one process or of all; returns the
 * processes whose backoff went.
 */
export async function deleteBackoffs(db: Queryable, a: { machineId: string; process?: Process | undefined }, opts?: QueryOptions): Promise<Process[]> {
  const r = await db.query(
    'DELETE FROM work_backoff WHERE machine_id = $1 AND ($2::process IS NULL OR process = $2::process) RETURNING process',
    [a.machineId, a.process ?? null],
    opts,
  );
  // An agent start hint waits for the end of the backoff: bring it back to now (docs/architecture.md#work-schedule).
  if (r.rowCount > 0) await refreshWorkDue(db, { machineIds: [a.machineId] }, opts);
  return r.rows.map((row) => row.process as Process).sort();
}

/** Removes the pending OS installation request; returns whether there was one. */
export async function deleteOsInstallationRequest(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query('DELETE FROM machine_os_installation_request WHERE machine_id = $1', [a.machineId], opts);
  return r.rowCount > 0;
}

/**
 * Deletes a machine; its tags and backoffs go with it (ON DELETE CASCADE),
 * work_history and audit_log stay (no foreign key). Held work refuses the
 * delete at the database (work.machine_id is ON DELETE RESTRICT).
 */
export async function deleteMachine(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query('DELETE FROM machines WHERE machine_id = $1', [a.machineId], opts);
  return r.rowCount > 0;
}
