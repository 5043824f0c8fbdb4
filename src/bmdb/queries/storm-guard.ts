// The storm guard's statements (docs/architecture.md#recovery-guards): what
// the fleet's heartbeats look like right now, the reboot ledger behind the
// fleet-wide cap, and the shared guard row that serialises reboot decisions.
import type { Queryable, QueryOptions } from '../driver.ts';

/** What the storm guard decides on, read in one statement. */
export interface FleetHealth {
  /** Machines with an AgentStarted tag, not quarantined. */
  readonly started: number;
  /** Machines with a heartbeat tag, not quarantined (they heartbeated since their agent start). */
  readonly heartbeated: number;
  /** Of those, the ones whose last heartbeat is older than the silence threshold but within the window before it. */
  readonly recentlySilent: number;
  /** Whether any heartbeat arrived within the heartbeat interval. */
  readonly anyFreshHeartbeat: boolean;
  /** Reboots recorded in the ledger within the cap's window. */
  readonly recentReboots: number;
}

export interface FleetHealthArgs {
  readonly silenceSeconds: number;
  /** How far before the silence threshold a machine's last heartbeat may be and still count as "went silent recently". */
  readonly silenceWindowSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  readonly rebootWindowSeconds: number;
}

const NOT_QUARANTINED = (alias: string) => `NOT EXISTS (SELECT 1 FROM machine_quarantined mq WHERE mq.machine_id = ${alias}.machine_id)`;

export async function getFleetHealth(db: Queryable, a: FleetHealthArgs, opts?: QueryOptions): Promise<FleetHealth> {
  const r = await db.query(
    `SELECT
       (SELECT count(*) FROM machine_agent_started s WHERE ${NOT_QUARANTINED('s')})::int AS started,
       (SELECT count(*) FROM machine_agent_heartbeat h WHERE ${NOT_QUARANTINED('h')})::int AS heartbeated,
       (SELECT count(*) FROM machine_agent_heartbeat h WHERE ${NOT_QUARANTINED('h')}
          AND h.agent_heartbeat_at < now() - $1::float8 * interval '1 second'
          AND h.agent_heartbeat_at >= now() - ($1::float8 + $2::float8) * interval '1 second')::int AS recently_silent,
       EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.agent_heartbeat_at >= now() - $3::float8 * interval '1 second') AS fresh,
       (SELECT count(*) FROM recovery_reboots rr WHERE rr.rebooted_at > now() - $4::float8 * interval '1 second')::int AS reboots`,
    [a.silenceSeconds, a.silenceWindowSeconds, a.heartbeatIntervalSeconds, a.rebootWindowSeconds],
    opts,
  );
  const row = r.rows[0]!;
  return {
    started: Number(row.started),
    heartbeated: Number(row.heartbeated),
    recentlySilent: Number(row.recently_silent),
    anyFreshHeartbeat: row.fresh === true,
    recentReboots: Number(row.reboots),
  };
}

/** The shared guard row as the last check left it. */
export interface StormGuardRow {
  /** Why recovery is paused; null when it is not. */
  readonly reason: string | null;
  readonly since: Date | null;
  /** The last time a check saw a storm (mass silence or no heartbeats). */
  readonly lastSeenAt: Date | null;
  readonly clearedAt: Date | null;
  /** Whether the last storm was seen within `settleSeconds` (lockStormGuard only). */
  readonly settling: boolean;
}

const GUARD_COLUMNS = 'storm_reason, storm_since, storm_last_seen_at, storm_cleared_at';

function toGuardRow(row: Record<string, unknown>): StormGuardRow {
  return {
    reason: (row.storm_reason as string | null) ?? null,
    since: (row.storm_since as Date | null) ?? null,
    lastSeenAt: (row.storm_last_seen_at as Date | null) ?? null,
    clearedAt: (row.storm_cleared_at as Date | null) ?? null,
    settling: row.settling === true,
  };
}

/**
 * Takes the guard row's lock for the rest of the transaction (an update, so
 * that at SERIALIZABLE two deciders conflict instead of both reading the same
 * ledger) and returns it.
 */
export async function lockStormGuard(db: Queryable, a: { settleSeconds: number }, opts?: QueryOptions): Promise<StormGuardRow> {
  const r = await db.query(
    `UPDATE recovery_storm_guard SET guard_checked_at = now() WHERE guard_id = 1
     RETURNING ${GUARD_COLUMNS}, COALESCE(storm_last_seen_at > now() - $1::float8 * interval '1 second', false) AS settling`,
    [a.settleSeconds],
    opts,
  );
  return toGuardRow(r.rows[0]!);
}

export async function getStormGuard(db: Queryable, opts?: QueryOptions): Promise<StormGuardRow> {
  const r = await db.query(`SELECT ${GUARD_COLUMNS} FROM recovery_storm_guard WHERE guard_id = 1`, [], opts);
  return toGuardRow(r.rows[0] ?? {});
}

/**
 * Records what a check found: a pause reason (a storm when `storm`, which
 * also stamps storm_last_seen_at) or none. `since` keeps its value while the
 * same reason goes on; clearing stamps `storm_cleared_at`.
 */
export async function setStormGuard(db: Queryable, a: { reason: string | null; storm: boolean }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `UPDATE recovery_storm_guard SET
       storm_since = CASE WHEN $1::text IS NULL THEN NULL WHEN storm_reason IS NOT DISTINCT FROM $1::text THEN storm_since ELSE now() END,
       storm_cleared_at = CASE WHEN $1::text IS NULL AND storm_reason IS NOT NULL THEN now() ELSE storm_cleared_at END,
       storm_reason = $1::text,
       storm_last_seen_at = CASE WHEN $2::boolean THEN now() ELSE storm_last_seen_at END,
       guard_checked_at = now()
     WHERE guard_id = 1`,
    [a.reason, a.storm],
    opts,
  );
}

/** Adds a reboot to the ledger (and drops entries older than 8 days, beyond the longest window). */
export async function recordReboot(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query(`DELETE FROM recovery_reboots WHERE rebooted_at < now() - interval '8 days'`, [], opts);
  await db.query('INSERT INTO recovery_reboots (machine_id) VALUES ($1)', [a.machineId], opts);
}

export async function countRebootsSince(db: Queryable, a: { seconds: number }, opts?: QueryOptions): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM recovery_reboots WHERE rebooted_at > now() - $1::float8 * interval '1 second'`, [a.seconds], opts);
  return Number(r.rows[0]!.n);
}
