// The fleet-wide audit trail (work_history): filters, keyset paging newest
// first, and exports streamed page by page up to a row cap.
import { PROCESSES, SqlParams, WORK_HISTORY_EVENTS, type Process, type WorkHistoryEvent } from '../bmdb/index.ts';
import type { WebugContext } from './context.ts';
import type { EnumLabels } from './enum-labels.ts';
import type { BuiltQuery } from './fleet-query.ts';
import { cursorParts, decodeCursor, encodeCursor, intParam, oneOf, timeParam, uuidParam } from './params.ts';

export const AUDIT_PAGE_SIZE = 100;
export const MAX_AUDIT_PAGE_SIZE = 1000;
export const DEFAULT_EXPORT_ROWS = 10_000;
export const MAX_EXPORT_ROWS = 100_000;

export interface AuditFilter {
  /** A process or event the database knows, which may be newer than the model's. */
  readonly process?: string | undefined;
  readonly event?: string | undefined;
  readonly machine?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly limit: number;
  /** Keyset cursor: [timestamp text, machine id, process, event] of the last row seen. */
  readonly before?: readonly (string | null)[] | undefined;
}

export interface AuditRow {
  readonly machineId: string;
  readonly process: Process;
  readonly event: WorkHistoryEvent;
  readonly timestamp: Date;
  readonly failedCause: string | null;
}

/** The processes and history events a filter or cursor may name. */
export interface AuditLabels {
  readonly processes: readonly string[];
  readonly events: readonly string[];
}

/**
 * The database's labels, falling back to the model's. A newer release may
 * have added a process or event and written history with it; the cursor of a
 * page ending on such a row must be accepted back.
 */
export function auditLabels(enums: EnumLabels = {}): AuditLabels {
  return { processes: enums.process ?? PROCESSES, events: enums.work_history_event ?? WORK_HISTORY_EVENTS };
}

export function parseAuditFilter(params: URLSearchParams, labels: AuditLabels = auditLabels(), maxLimit = MAX_AUDIT_PAGE_SIZE): AuditFilter {
  return {
    process: oneOf(params, 'process', labels.processes),
    event: oneOf(params, 'event', labels.events),
    machine: uuidParam(params, 'machine'),
    from: timeParam(params, 'from'),
    to: timeParam(params, 'to'),
    limit: intParam(params, 'limit', AUDIT_PAGE_SIZE, 1, maxLimit),
    before: decodeCursor(params, 'before', [cursorParts.timestamp, cursorParts.uuid, cursorParts.oneOf(labels.processes), cursorParts.oneOf(labels.events)]),
  };
}

export function auditFilterQuery(f: AuditFilter): Record<string, string | undefined> {
  return { process: f.process, event: f.event, machine: f.machine, from: f.from?.toISOString(), to: f.to?.toISOString() };
}

export function buildAuditQuery(f: AuditFilter, limit: number): BuiltQuery {
  const p = new SqlParams();
  const where: string[] = [];
  if (f.process) where.push(`process = ${p.add(f.process, 'process')}`);
  if (f.event) where.push(`event = ${p.add(f.event, 'work_history_event')}`);
  if (f.machine) where.push(`machine_id = ${p.add(f.machine, 'uuid')}`);
  if (f.from) where.push(`timestamp >= ${p.add(f.from, 'timestamptz')}`);
  if (f.to) where.push(`timestamp < ${p.add(f.to, 'timestamptz')}`);
  if (f.before) {
    const [ts, id, proc, ev] = f.before;
    const t = p.add(ts, 'timestamptz');
    // The plain bound lets the timestamp index do the work; the row comparison breaks ties.
    where.push(`timestamp <= ${t}`);
    where.push(`(timestamp, machine_id, process, event) < (${t}, ${p.add(id, 'uuid')}, ${p.add(proc, 'process')}, ${p.add(ev, 'work_history_event')})`);
  }
  const sql = `SELECT machine_id, process, event, timestamp, timestamp::text AS ts_key, failed_cause FROM work_history${where.length ? `\nWHERE ${where.join(' AND ')}` : ''}
ORDER BY timestamp DESC, machine_id DESC, process DESC, event DESC
LIMIT ${p.add(limit, 'int')}`;
  return { sql, params: p.values };
}

function toRow(r: Record<string, unknown>): AuditRow {
  return {
    machineId: String(r.machine_id),
    process: r.process as Process,
    event: r.event as WorkHistoryEvent,
    timestamp: r.timestamp as Date,
    failedCause: (r.failed_cause as string | null) ?? null,
  };
}

const cursorOf = (r: Record<string, unknown>) => encodeCursor([String(r.ts_key), String(r.machine_id), String(r.process), String(r.event)]);

export async function loadAuditPage(ctx: WebugContext, f: AuditFilter, signal?: AbortSignal): Promise<{ rows: AuditRow[]; next: string | null }> {
  const q = buildAuditQuery(f, f.limit + 1);
  const r = await ctx.read((db) => db.query(q.sql, q.params, { signal }), { signal });
  const rows = r.rows.slice(0, f.limit);
  return { rows: rows.map(toRow), next: r.rows.length > f.limit ? cursorOf(rows[rows.length - 1]!) : null };
}

/** Calls `emit` with successive pages until the filter is exhausted or `cap` rows were produced. Returns whether the cap cut it short. */
export async function streamAudit(
  ctx: WebugContext,
  f: AuditFilter,
  cap: number,
  emit: (rows: AuditRow[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<{ rows: number; truncated: boolean }> {
  let before = f.before;
  let total = 0;
  for (;;) {
    const want = Math.min(MAX_AUDIT_PAGE_SIZE, cap - total);
    const q = buildAuditQuery({ ...f, before }, want + 1);
    const r = await ctx.read((db) => db.query(q.sql, q.params, { signal }), { signal });
    const page = r.rows.slice(0, want);
    if (page.length > 0) await emit(page.map(toRow));
    total += page.length;
    if (r.rows.length <= want) return { rows: total, truncated: false };
    if (total >= cap) return { rows: total, truncated: true };
    const last = page[page.length - 1]!;
    before = [String(last.ts_key), String(last.machine_id), String(last.process), String(last.event)];
  }
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) || /^[=+\-@\t]/.test(s) ? `"${(/^[=+\-@\t]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"` : s);

export const AUDIT_CSV_HEADER = 'timestamp,machine_id,process,event,failed_cause\n';

/** One CSV line per row; a cause that looks like a spreadsheet formula is prefixed with a quote. */
export function auditCsv(rows: readonly AuditRow[]): string {
  return rows.map((r) => [r.timestamp.toISOString(), r.machineId, r.process, r.event, r.failedCause ?? ''].map(csvCell).join(',') + '\n').join('');
}
