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
  /** Started machines that never heartbeated although their agent start is older than the no-heartbeat threshold. */
  readonly overdue: number;
  /**
   * Machines that went silent within the window: a heartbeated one when its
   * last heartbeat plus the silence threshold, an overdue one when its agent
   * start plus the no-heartbeat threshold, lies within the window.
   */
  readonly recentlySilent: number;
  /** Whether any heartbeat arrived within the heartbeat interval. */
  readonly anyFreshHeartbeat: boolean;
  /** Reboots recorded in the ledger within the cap's window. */
  readonly recentReboots: number;
}

export interface FleetHealthArgs {
  readonly silenceSeconds: number;
  /** A started agent with no heartbeat this long after its start is overdue (silent from then on). */
  readonly noHeartbeatAfterStartSeconds: number;
  /** How long before now a machine may have gone silent and still count as "went silent recently". */
  readonly silenceWindowSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  readonly rebootWindowSeconds: number;
}

const NOT_QUARANTINED = (alias: string) => `NOT EXISTS (SELECT 1 FROM machine_quarantined mq WHERE mq.machine_id = ${alias}.machine_id)`;

const NEVER_HEARTBEATED = 'NOT EXISTS (SELECT 1 FROM machine_agent_heartbeat nh WHERE nh.machine_id = s.machine_id)';

/** `$n` seconds as an interval. */
const secs = (n: number) => `$${n}::float8 * interval '1 second'`;

export async function getFleetHealth(db: Queryable, a: FleetHealthArgs, opts?: QueryOptions): Promise<FleetHealth> {
  // $1 silence, $2 window, $3 heartbeat interval, $4 reboot window, $5 no-heartbeat-after-start.
  const r = await db.query(
    `SELECT
       (SELECT count(*) FROM machine_agent_started s WHERE ${NOT_QUARANTINED('s')})::int AS started,
       (SELECT count(*) FROM machine_agent_heartbeat h WHERE ${NOT_QUARANTINED('h')})::int AS heartbeated,
       (SELECT count(*) FROM machine_agent_started s WHERE ${NOT_QUARANTINED('s')} AND ${NEVER_HEARTBEATED}
          AND s.agent_started_at < now() - ${secs(5)})::int AS overdue,
       (SELECT count(*) FROM machine_agent_heartbeat h WHERE ${NOT_QUARANTINED('h')}
          AND h.agent_heartbeat_at < now() - ${secs(1)}
          AND h.agent_heartbeat_at >= now() - ${secs(1)} - ${secs(2)})::int
       + (SELECT count(*) FROM machine_agent_started s WHERE ${NOT_QUARANTINED('s')} AND ${NEVER_HEARTBEATED}
          AND s.agent_started_at < now() - ${secs(5)}
          AND s.agent_started_at >= now() - ${secs(5)} - ${secs(2)})::int AS recently_silent,
       EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.agent_heartbeat_at >= now() - ${secs(3)}) AS fresh,
       (SELECT count(*) FROM recovery_reboots rr WHERE rr.rebooted_at > now() - ${secs(4)})::int AS reboots`,
    [a.silenceSeconds, a.silenceWindowSeconds, a.heartbeatIntervalSeconds, a.rebootWindowSeconds, a.noHeartbeatAfterStartSeconds],
    opts,
  );
  const row = r.rows[0]!;
  return {
    started: Number(row.started),
    heartbeated: Number(row.heartbeated),
    overdue: Number(row.overdue),
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
