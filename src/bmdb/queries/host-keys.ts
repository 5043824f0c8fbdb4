// The SSH host key tag: the key the shepherd trusted on first use.
import type { Queryable, QueryOptions } from '../driver.ts';
import { toBytes } from './rows.ts';

export interface SshHostKey {
  machineId: string;
  /** SSH wire-format public key blob. */
  key: Uint8Array;
  /** "SHA256:..." as OpenSSH prints it. */
  fingerprint: string;
  firstSeenAt: Date;
}

function toSshHostKey(r: Record<string, unknown>): SshHostKey {
  return {
    machineId: r.machine_id as string,
    key: toBytes(r.ssh_host_key),
    fingerprint: r.ssh_host_key_fingerprint as string,
    firstSeenAt: r.ssh_host_key_first_seen_at as Date,
  };
}

/** The recorded host key of a machine, or null when none was recorded yet. */
export async function getSshHostKey(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<SshHostKey | null> {
  const r = await db.query(
    `SELECT machine_id, ssh_host_key, ssh_host_key_fingerprint, ssh_host_key_first_seen_at
     FROM machine_ssh_host_key WHERE machine_id = $1`,
    [a.machineId],
    opts,
  );
  return r.rows[0] ? toSshHostKey(r.rows[0]) : null;
}

/**
 * Records a machine's host key unless one is recorded already, and returns the
 * key that is recorded afterwards: the given one on first use, else the older
 * one (which the caller compares against what it was shown).
 */
export async function recordSshHostKeyIfAbsent(
  db: Queryable,
  a: { machineId: string; key: Uint8Array; fingerprint: string },
  opts?: QueryOptions,
): Promise<SshHostKey> {
  await db.query(
    `INSERT INTO machine_ssh_host_key (machine_id, ssh_host_key, ssh_host_key_fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (machine_id) DO NOTHING`,
    [a.machineId, a.key, a.fingerprint],
    opts,
  );
  const stored = await getSshHostKey(db, { machineId: a.machineId }, opts);
  if (!stored) throw new Error(`host key of machine ${a.machineId} vanished right after it was recorded`);
  return stored;
}

/** Replaces a machine's recorded host key (an operator accepting a changed key). */
export async function setSshHostKey(db: Queryable, a: { machineId: string; key: Uint8Array; fingerprint: string }, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_ssh_host_key (machine_id, ssh_host_key, ssh_host_key_fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (machine_id) DO UPDATE SET ssh_host_key = excluded.ssh_host_key,
       ssh_host_key_fingerprint = excluded.ssh_host_key_fingerprint, ssh_host_key_first_seen_at = now()`,
    [a.machineId, a.key, a.fingerprint],
    opts,
  );
}

/** Forgets a machine's host key, so the next connection trusts whatever it is shown. */
export async function deleteSshHostKey(db: Queryable, a: { machineId: string }, opts?: QueryOptions): Promise<void> {
  await db.query('DELETE FROM machine_ssh_host_key WHERE machine_id = $1', [a.machineId], opts);
}
