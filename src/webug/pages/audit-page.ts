// The audit trail: filters, a page of history rows, exports.
import type { AuditEntry } from '../../bmdb/index.ts';
import { auditFilterQuery, auditLabels, type AuditFilter, type AuditLabels, type AuditRow } from '../audit.ts';
import { html, href, type SafeHtml } from '../html.ts';
import { badge, isoSeconds, machineLink, muted } from './format.ts';

const select = (name: string, values: readonly string[], selected: string | undefined) =>
  html`<select name="${name}"><option value="">any</option>${values.map((v) => html`<option value="${v}" ${v === selected ? html`selected` : ''}>${v}</option>`)}</select>`;

/** The operator actions table (the audit page's and the machine page's audit section). */
export function operatorActions(rows: readonly AuditEntry[], machine: string | undefined): SafeHtml {
  return html`<h2>Operator actions</h2>
  <table class="operator-audit" id="operator-actions"><thead><tr><th>time</th><th>machine</th><th>provider id</th><th>actor</th><th>action</th><th>arguments</th><th>reason</th><th>result</th></tr></thead><tbody>
  ${rows.length ? rows.map((a) => html`<tr><td class="mono">${isoSeconds(a.at)}</td><td>${a.machineId ? machineLink(a.machineId) : ''}</td><td>${a.providerId ?? ''}</td><td>${a.actor}</td><td>${a.action}</td>
     <td class="mono">${Object.keys(a.arguments).length ? JSON.stringify(a.arguments) : ''}</td><td>${a.reason ?? ''}</td><td class="cause">${a.result}</td></tr>`) : html`<tr><td colspan="8" class="muted">no operator actions${machine ? ' on this machine' : ''}</td></tr>`}
  </tbody></table>
  <div class="pager"><a class="meta" href="${href('/api/audit/actions', { machine })}">JSON</a></div>`;
}

export function auditPage(f: AuditFilter, page: { rows: readonly AuditRow[]; next: string | null }, actions: readonly AuditEntry[] = [], labels: AuditLabels = auditLabels()): SafeHtml {
  const q = auditFilterQuery(f);
  return html`<h1>Audit trail</h1>
  <form class="filters" method="get" action="/audit">
    <label>process${select('process', labels.processes, f.process)}</label>
    <label>event${select('event', labels.events, f.event)}</label>
    <label>machine<input name="machine" value="${f.machine ?? ''}" size="36" placeholder="machine id"></label>
    <label>from (UTC)<input name="from" value="${f.from?.toISOString() ?? ''}" placeholder="2025-01-31T00:00:00Z" size="22"></label>
    <label>to (UTC)<input name="to" value="${f.to?.toISOString() ?? ''}" size="22"></label>
    <button type="submit">Apply</button> <a class="button" href="/audit">Reset</a>
    <span class="meta">export: <a id="export-csv" href="${href('/audit/export.csv', q)}">CSV</a> · <a id="export-json" href="${href('/audit/export.json', q)}">JSON</a></span>
  </form>
  <table class="audit"><thead><tr><th>time</th><th>machine</th><th>process</th><th>event</th><th>cause</th></tr></thead><tbody>
  ${page.rows.length ? page.rows.map((r) => html`<tr><td class="mono">${isoSeconds(r.timestamp)}</td><td>${machineLink(r.machineId)}</td><td>${r.process}</td>
     <td>${badge(r.event, r.event === 'Failed' ? 'bad' : r.event === 'Finished' ? 'ok' : r.event === 'Started' ? 'busy' : 'plain')}</td><td class="cause">${r.failedCause ?? ''}</td></tr>`) : html`<tr><td colspan="5" class="muted">no history matches</td></tr>`}
  </tbody></table>
  <div class="pager">${f.before ? html`<a href="${href('/audit', q)}">« newest</a>` : ''}
    ${page.next ? html`<a rel="next" href="${href('/audit', { ...q, before: page.next })}">older »</a>` : muted('oldest reached')}
    <a class="meta" href="${href('/api/audit', q)}">JSON</a></div>
  ${operatorActions(actions, f.machine)}`;
}
