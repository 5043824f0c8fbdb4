// The operators' audit trail (`audit_log`, migration 7): what an operator did
// to which machine, with the arguments, the reason and the outcome. Rows have
// no foreign key, so they outlive the machine.
import type { Queryable, QueryOptions } from '../driver.ts';

export interface NewAuditEntry {
  /** Who acted: an operator's name, a token's name, `cli:<user>`. */
  actor: string;
  action: string;
  machineId: string | null;
  providerId: string | null;
  arguments: Record<string, unknown>;
  reason: string | null;
  /** What the action did, in one line. */
  result: string;
}

export interface AuditEntry extends NewAuditEntry {
  id: string;
  at: Date;
}

const COLUMNS = 'id, at, actor, action, machine_id, provider_id, arguments, reason, result';

function toAuditEntry(r: Record<string, unknown>): AuditEntry {
  const args = typeof r.arguments === 'string' ? (JSON.parse(r.arguments) as unknown) : r.arguments;
  return {
    id: r.id as string,
    at: r.at as Date,
    actor: r.actor as string,
    action: r.action as string,
    machineId: (r.machine_id as string | null) ?? null,
    providerId: (r.provider_id as string | null) ?? null,
    arguments: (args ?? {}) as Record<string, unknown>,
    reason: (r.reason as string | null) ?? null,
    result: r.result as string,
  };
}

/** Appends one entry; the time is the database's clock. */
export async function insertAuditEntry(db: Queryable, a: NewAuditEntry, opts?: QueryOptions): Promise<AuditEntry> {
  const r = await db.query(
    `INSERT INTO audit_log (actor, action, machine_id, provider_id, arguments, reason, result)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING ${COLUMNS}`,
    [a.actor, a.action, a.machineId, a.providerId, JSON.stringify(a.arguments), a.reason, a.result],
    opts,
  );
  return toAuditEntry(r.rows[0]!);
}

export interface ListAuditArgs {
  machineId?: string | undefined;
  action?: string | undefined;
  /** Only entries strictly older than this (a keyset cursor: time, then id). */
  before?: { at: string; id: string } | undefined;
  limit: number;
}

/** Entries newest first, at most `limit`. */
export async function listAuditEntries(db: Queryable, a: ListAuditArgs, opts?: QueryOptions): Promise<AuditEntry[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (a.machineId !== undefined) where.push(`machine_id = $${params.push(a.machineId)}::uuid`);
  if (a.action !== undefined) where.push(`action = $${params.push(a.action)}`);
  if (a.before) where.push(`(at, id) < ($${params.push(a.before.at)}::timestamptz, $${params.push(a.before.id)}::uuid)`);
  const r = await db.query(
    `SELECT ${COLUMNS} FROM audit_log${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${params.push(a.limit)}`,
    params,
    opts,
  );
  return r.rows.map(toAuditEntry);
}
