// Many agents' heartbeats in one statement (the callback server's group
// commit, docs/architecture.md#callback-server). Authentication is part of
// the write: a heartbeat is recorded only when its (machine id, key) pair
// matches AgentStarted as the statement sees it, so a key removed or replaced
// before the statement started is refused, batched or not.
import type { Queryable, QueryOptions } from '../driver.ts';
import { toBytes } from './rows.ts';

export interface HeartbeatClaim {
  readonly machineId: string;
  /** The caller's raw 32-byte Ed25519 key. */
  readonly publicKey: Uint8Array;
}

export interface AcceptedHeartbeat {
  readonly machineId: string;
  /** The key AgentStarted holds, which the accepted claim carried. */
  readonly publicKey: Uint8Array;
  /** The pending installation request (no report of its generation yet), if any. */
  readonly pending?: { readonly generation: number; readonly raw: Uint8Array };
}

// unnest of two arrays pairs them element by element (PostgreSQL, CockroachDB
// and PGlite alike). Keys travel as hex text, which every driver passes the
// same way inside an array. The heartbeat time is the database's clock.
const RECORD_HEARTBEATS = `
WITH matched AS (
  SELECT DISTINCT s.machine_id, s.agent_public_key
  FROM unnest($1::uuid[], $2::text[]) AS c (machine_id, key_hex)
  JOIN machine_agent_started s ON s.machine_id = c.machine_id AND s.agent_public_key = decode(c.key_hex, 'hex')
), accepted AS (
  INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at)
  SELECT machine_id, now() FROM matched
  ON CONFLICT (machine_id) DO UPDATE SET agent_heartbeat_at = excluded.agent_heartbeat_at
  RETURNING machine_id
)
SELECT a.machine_id, m.agent_public_key, rq.generation, rq.os_installation_request_raw
FROM accepted a
JOIN matched m ON m.machine_id = a.machine_id
LEFT JOIN machine_os_installation_request rq ON rq.machine_id = a.machine_id
  AND NOT EXISTS (
    SELECT 1 FROM machine_os_installation_report rp WHERE rp.machine_id = rq.machine_id AND rp.generation = rq.generation
  )`;

/**
 * Records the heartbeat of every claim whose (machine id, key) matches an
 * AgentStarted tag, in one statement, and returns those accepted with their
 * pending installation request, by machine id. A claim was accepted only
 * when the result has its machine id with its key (see claimAccepted); the
 * caller must not tell a refused agent why. Machine ids must be lowercase
 * UUIDs; the same claim twice counts once.
 */
export async function recordHeartbeats(db: Queryable, a: { claims: readonly HeartbeatClaim[] }, opts?: QueryOptions): Promise<Map<string, AcceptedHeartbeat>> {
  const claims = a.claims.filter((c) => c.publicKey.length === 32);
  const accepted = new Map<string, AcceptedHeartbeat>();
  if (claims.length === 0) return accepted;
  const r = await db.query(
    RECORD_HEARTBEATS,
    [claims.map((c) => c.machineId), claims.map((c) => Buffer.from(c.publicKey.buffer, c.publicKey.byteOffset, c.publicKey.byteLength).toString('hex'))],
    opts,
  );
  for (const row of r.rows) {
    const machineId = row.machine_id as string;
    const publicKey = toBytes(row.agent_public_key);
    const raw = row.os_installation_request_raw;
    accepted.set(machineId, raw === null || raw === undefined ? { machineId, publicKey } : { machineId, publicKey, pending: { generation: Number(row.generation), raw: toBytes(raw) } });
  }
  return accepted;
}

/** The accepted heartbeat of this claim in recordHeartbeats' result, or undefined when it was refused. */
export function claimAccepted(accepted: ReadonlyMap<string, AcceptedHeartbeat>, claim: HeartbeatClaim): AcceptedHeartbeat | undefined {
  const a = accepted.get(claim.machineId);
  return a && Buffer.from(a.publicKey).equals(claim.publicKey) ? a : undefined;
}
