// Setters and deleters of the agent- and installation-related tags, and the
// two lookups the agent callback server needs.
import { queryAll, type Queryable, type QueryOptions, type Statement } from '../driver.ts';
import type { OsInstallationResult } from '../model.ts';
import { clearAttemptsStatement } from './quarantine.ts';
import { toBytes } from './rows.ts';
import { agentGoneHints, hintHeartbeatGone, unhintAgentStart, withRecoveryHint } from './work-due.ts';

/** Records that the agent was started and will authenticate with this 32-byte Ed25519 key. */
export async function setAgentStarted(db: Queryable, a: { machineId: string; startedAt?: Date; publicKey: Uint8Array }, opts?: QueryOptions): Promise<void> {
  // The tag and its schedule hints in one round trip where the database can.
  await queryAll(db, agentStartedStatements(a), opts);
}

// The AgentStarted upsert, writing the recovery hint in the same statement.
const AGENT_STARTED = withRecoveryHint(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, COALESCE($2, now()), $3)
ON CONFLICT (machine_id) DO UPDATE SET agent_started_at = excluded.agent_started_at, agent_public_key = excluded.agent_public_key`);

/** The AgentStarted write with its schedule hints: two statements. */
function agentStartedStatements(a: { machineId: string; startedAt?: Date; publicKey: Uint8Array }): Statement[] {
  if (a.publicKey.length !== 32) throw new RangeError(`agent public key must be 32 bytes, got ${a.publicKey.length}`);
  return [{ sql: AGENT_STARTED, params: [a.machineId, a.startedAt ?? null, a.publicKey] }, unhintAgentStart(a)];
}

const DELETE_HEARTBEAT = 'DELETE FROM machine_agent_heartbeat WHERE machine_id = $1';

/**
 * Everything a successful agent start writes, as one batch (one round trip on
 * PostgreSQL; with `{ commits: true }` the COMMIT travels with it): drops a
 * heartbeat row left by the previous agent (one that raced the recovery's
 * finish can land after it: docs/architecture.md#recoverer), records
 * AgentStarted with its schedule hints, and forgets the machine's failed
 * agent starts.
 */
export async function recordAgentStart(db: Queryable, a: { machineId: string; publicKey: Uint8Array }, opts?: QueryOptions): Promise<void> {
  const statements = [{ sql: DELETE_HEARTBEAT, params: [a.machineId] }, ...agentStartedStatements(a), clearAttemptsStatement({ machineId: a.machineId, process: 'ShepherdAgentStart' })];
  await queryAll(db, statements, opts);
}

export async function deleteAgentStarted(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await queryAll(db, [{ sql: 'DELETE FROM machine_agent_started WHERE machine_id = $1', params: [a.machineId] }, ...agentGoneHints(a)], opts);
}

/**
 * Records a heartbeat; the time is the database's clock unless given. One
 * statement, with no schedule write: silence is found through the heartbeat
 * time index, and the sweep drops the machine's "never heartbeated" hint.
 */
export async function setAgentHeartbeat(db: Queryable, a: { machineId: string; at?: Date }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, COALESCE($2, now()))
     ON CONFLICT (machine_id) DO UPDATE SET agent_heartbeat_at = excluded.agent_heartbeat_at`,
    [a.machineId, a.at ?? null],
    opts,
  );
}

export async function deleteAgentHeartbeat(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query(DELETE_HEARTBEAT, [a.machineId], opts);
  await hintHeartbeatGone(db, a, opts);
}

/** Stores a serialized AgentHardwareReport, replacing any previous one. */
export async function setHardwareReport(db: Queryable, a: { machineId: string; raw: Uint8Array }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) VALUES ($1, $2)
     ON CONFLICT (machine_id) DO UPDATE SET hardware_report_raw = excluded.hardware_report_raw`,
    [a.machineId, a.raw],
    opts,
  );
}

/** Stores a serialized OSInstallationRequest with its generation. */
export async function setOsInstallationRequest(db: Queryable, a: { machineId: string; generation: number; raw: Uint8Array }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_os_installation_request (machine_id, generation, os_installation_request_raw) VALUES ($1, $2, $3)
     ON CONFLICT (machine_id) DO UPDATE SET generation = excluded.generation, os_installation_request_raw = excluded.os_installation_request_raw`,
    [a.machineId, a.generation, a.raw],
    opts,
  );
}

/** Stores the outcome of an installation for the generation it reports on. */
export async function setOsInstallationReport(
  db: Queryable,
  a: { machineId: string; generation: number; result: OsInstallationResult; raw: Uint8Array },
  opts?: QueryOptions,
): Promise<void> {
  await db.query(
    `INSERT INTO machine_os_installation_report (machine_id, generation, os_installation_result, os_installation_report_raw) VALUES ($1, $2, $3, $4)
     ON CONFLICT (machine_id) DO UPDATE SET generation = excluded.generation, os_installation_result = excluded.os_installation_result,
       os_installation_report_raw = excluded.os_installation_report_raw`,
    [a.machineId, a.generation, a.result, a.raw],
    opts,
  );
}

/** Stores the latest progress of the installation of that generation (migration 0009). */
export async function setOsInstallationProgress(db: Queryable, a: { machineId: string; generation: number; raw: Uint8Array }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_os_installation_progress (machine_id, generation, os_installation_progress_raw) VALUES ($1, $2, $3)
     ON CONFLICT (machine_id) DO UPDATE SET generation = excluded.generation, os_installation_progress_raw = excluded.os_installation_progress_raw,
       progress_reported_at = now()`,
    [a.machineId, a.generation, a.raw],
    opts,
  );
}

export interface AgentStarted {
  machineId: string;
  startedAt: Date;
  publicKey: Uint8Array;
}

/**
 * The AgentStarted row when both the machine id and the 32-byte public key
 * match it, else null. Callers must not tell the two kinds of mismatch apart
 * to an agent.
 */
export async function authenticateAgent(db: Queryable, a: { machineId: string; publicKey: Uint8Array }, opts?: QueryOptions): Promise<AgentStarted | null> {
  if (a.publicKey.length !== 32) return null;
  const r = await db.query(
    'SELECT machine_id, agent_started_at, agent_public_key FROM machine_agent_started WHERE machine_id = $1 AND agent_public_key = $2',
    [a.machineId, a.publicKey],
    opts,
  );
  const row = r.rows[0];
  return row ? { machineId: row.machine_id as string, startedAt: row.agent_started_at as Date, publicKey: toBytes(row.agent_public_key) } : null;
}

export interface PendingInstallation {
  machineId: string;
  generation: number;
  raw: Uint8Array;
}

/** The installation request of this machine that has no report of the same generation, or null. */
export async function getPendingInstallation(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<PendingInstallation | null> {
  const r = await db.query(
    `SELECT rq.machine_id, rq.generation, rq.os_installation_request_raw
     FROM machine_os_installation_request rq
     LEFT JOIN machine_os_installation_report rp ON rp.machine_id = rq.machine_id
     WHERE rq.machine_id = $1 AND (rp.machine_id IS NULL OR rp.generation <> rq.generation)`,
    [a.machineId],
    opts,
  );
  const row = r.rows[0];
  return row ? { machineId: row.machine_id as string, generation: Number(row.generation), raw: toBytes(row.os_installation_request_raw) } : null;
}
