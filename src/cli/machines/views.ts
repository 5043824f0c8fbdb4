// What `bmaas machines list|show|explain|history` print on a terminal. The
// data comes from webug's loaders (the same the web pages show); --json
// prints those objects as they are.
import type { AuditEntry, WorkHistoryEntry } from '../../bmdb/index.ts';
import type { FleetRow, MachineDetail } from '../../webug/index.ts';
import { formatDuration } from '../../lib/duration.ts';
import { age, formatTable } from './table.ts';

export function listView(rows: readonly FleetRow[]): string {
  return formatTable(
    ['machine', 'provider', 'provider id', 'address', 'status', 'state', 'heartbeat', 'work', 'backoff'],
    rows.map((r) => [
      r.machineId,
      r.provider,
      r.providerId,
      r.address,
      r.status.label,
      r.state ? `${r.state.state}${r.state.stuck ? `, stuck since ${age(r.state.since)}` : ''}` : null,
      age(r.heartbeatAt),
      r.work.map((w) => w.process).join(',') || null,
      r.backoffs.map((b) => b.process).join(',') || null,
    ]),
  );
}

export function explainView(d: MachineDetail): string {
  const out: string[] = [];
  if (d.state) out.push(d.state.stuckReason ?? `state: ${d.state.state} since ${d.state.since.toISOString()}${d.state.limitSeconds === null ? '' : ` (stuck after ${formatDuration(d.state.limitSeconds * 1000)})`}`);
  for (const p of d.explain) {
    out.push(`${p.process}: ${p.candidate ? 'a candidate now' : 'not a candidate'}`);
    for (const c of p.clauses) {
      out.push(`  ${c.holds ? '✓' : '✗'} ${c.description}`);
      for (const line of c.details) out.push(`      ${line}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export function showView(d: MachineDetail, audit: readonly AuditEntry[]): string {
  const out = [`machine ${d.machineId}${d.exists ? `, created ${d.createdAt?.toISOString()}` : ' (removed from the BMDB; history only)'}`, ''];
  if (d.installation) out.push(`installation: ${d.installation.summary}${d.installation.what ? ` (${d.installation.what})` : ''}`, '');
  for (const t of d.tags.filter((x) => x.present)) {
    out.push(`${t.name}:`);
    for (const f of t.fields) {
      if (f.name === 'machine_id') continue;
      const value = f.decoded ? (f.decoded.summary.length ? f.decoded.summary.join('; ') : `${f.decoded.size} bytes`) : (f.value ?? '-');
      out.push(`  ${f.name}: ${value}`);
    }
  }
  if (d.work.length) out.push('', formatTable(['work', 'session', 'component', 'since'], d.work.map((w) => [w.process, w.sessionId, w.component, w.since])).trimEnd());
  if (d.backoffs.length) out.push('', formatTable(['backoff', 'until', 'active', 'cause'], d.backoffs.map((b) => [b.process, b.until, b.active ? 'yes' : 'expired', b.cause])).trimEnd());
  out.push('', explainView(d).trimEnd());
  if (audit.length) out.push('', auditTable(audit).trimEnd());
  return `${out.join('\n')}\n`;
}

function auditTable(audit: readonly AuditEntry[]): string {
  return formatTable(['audit at', 'actor', 'action', 'reason', 'result'], audit.map((a) => [a.at, a.actor, a.action, a.reason, a.result]));
}

export interface TimelineRow {
  readonly at: Date;
  readonly kind: 'work' | 'audit';
  readonly what: string;
  readonly detail: string | null;
}

/** Work history and audit entries of one machine, newest first. */
export function timeline(history: readonly WorkHistoryEntry[], audit: readonly AuditEntry[]): TimelineRow[] {
  const rows: TimelineRow[] = [
    ...history.map((h) => ({ at: h.timestamp, kind: 'work' as const, what: `${h.process} ${h.event}`, detail: h.failedCause })),
    ...audit.map((a) => ({ at: a.at, kind: 'audit' as const, what: `${a.action} by ${a.actor}`, detail: [a.reason && `reason: ${a.reason}`, a.result].filter(Boolean).join('; ') })),
  ];
  return rows.sort((x, y) => y.at.getTime() - x.at.getTime());
}

export function historyView(rows: readonly TimelineRow[]): string {
  return formatTable(['time', 'kind', 'what', 'detail'], rows.map((r) => [r.at, r.kind, r.what, r.detail]));
}
