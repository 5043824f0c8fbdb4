// Reads of the audit trail, sessions and hardware reports.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Process, WorkHistoryEvent } from '../model.ts';
import { toBytes } from './rows.ts';

export interface WorkHistoryEntry {
  machineId: string;
  process: Process;
  event: WorkHistoryEvent;
  timestamp: Date;
  failedCause: string | null;
}

const toHistory = (r: Record<string, unknown>): WorkHistoryEntry => ({
  machineId: r.machine_id as string,
  process: r.process as Process,
  event: r.event as WorkHistoryEvent,
  timestamp: r.timestamp as Date,
  failedCause: (r.failed_cause as string | null) ?? null,
});

/** Every history row of a machine, oldest first. */
export async function listHistoryOf(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<WorkHistoryEntry[]> {
  const r = await db.query(
    'SELECT machine_id, process, event, timestamp, failed_cause FROM work_history WHERE machine_id = $1 ORDER BY timestamp, event',
    [a.machineId],
    opts,
  );
  return r.rows.map(toHistory);
}

export interface SessionRow {
  sessionId: string;
  componentName: string;
  runtimeInfo: string;
  createdAt: Date;
  intervalSeconds: number;
  deadline: Date;
  /** Deadline still in the future by the database's clock. */
  live: boolean;
}

/** A session by id, or null (never existed, closed or collected). */
export async function getSession(db: Queryable, a: { sessionId: string }, opts?: QueryOptions): Promise<SessionRow | null> {
  const r = await db.query(
    `SELECT session_id, session_component_name, session_runtime_info, session_created_at, session_interval_seconds, session_deadline,
       session_deadline > now() AS live
     FROM sessions WHERE session_id = $1`,
    [a.sessionId],
    opts,
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    sessionId: row.session_id as string,
    componentName: row.session_component_name as string,
    runtimeInfo: row.session_runtime_info as string,
    createdAt: row.session_created_at as Date,
    intervalSeconds: Number(row.session_interval_seconds),
    deadline: row.session_deadline as Date,
    live: row.live as boolean,
  };
}

export interface HardwareReportRow {
  machineId: string;
  raw: Uint8Array;
  providerLocation: string | null;
  provider: string | null;
}

/**
 * One page of hardware reports ordered by machine id, after `afterMachineId`
 * (exclusive; null for the first page). A page shorter than `limit` is the
 * last one: callers loop until then, which always terminates because the key
 * strictly increases.
 */
export async function listHardwareReports(
  db: Queryable,
  a: { afterMachineId: string | null; limit: number },
  opts?: QueryOptions,
): Promise<HardwareReportRow[]> {
  const r = await db.query(
    `SELECT hr.machine_id, hr.hardware_report_raw, mp.provider_location, mp.provider
     FROM machine_hardware_report hr LEFT JOIN machine_provided mp ON mp.machine_id = hr.machine_id
     WHERE ($1::uuid IS NULL OR hr.machine_id > $1::uuid)
     ORDER BY hr.machine_id LIMIT $2`,
    [a.afterMachineId, a.limit],
    opts,
  );
  return r.rows.map((row) => ({
    machineId: row.machine_id as string,
    raw: toBytes(row.hardware_report_raw),
    providerLocation: (row.provider_location as string | null) ?? null,
    provider: (row.provider as string | null) ?? null,
  }));
}

/** Whether some session holds `process` work on the machine right now. */
export async function hasActiveWork(db: Queryable, a: { machineId: string; process: Process }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM work WHERE machine_id = $1 AND process = $2', [a.machineId, a.process], opts);
  return r.rowCount > 0;
}
