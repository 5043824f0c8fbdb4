// A bulk action's preview (a dry run on every selected machine, with the
// count, and the form that confirms it) and its results.
import { html, href, type SafeHtml } from '../html.ts';
import { machineLink, muted } from './format.ts';

export interface BulkLine {
  readonly machineId: string;
  readonly providerId: string | null;
  readonly ok: boolean;
  readonly result: string;
}

function lineTable(lines: readonly BulkLine[], verb: string): SafeHtml {
  return html`<table class="bulk"><thead><tr><th>machine</th><th>provider id</th><th>${verb}</th></tr></thead><tbody>
  ${lines.map((l) => html`<tr data-machine="${l.machineId}" data-ok="${String(l.ok)}"><td>${machineLink(l.machineId, true)}</td><td class="mono">${l.providerId ?? ''}</td>
    <td class="${l.ok ? '' : 'cause'}">${l.ok ? l.result : html`refused: ${l.result}`}</td></tr>`)}
  </tbody></table>`;
}

export function bulkPreviewPage(p: { form: URLSearchParams; lines: readonly BulkLine[]; digest: string; csrf: string }): SafeHtml {
  const action = p.form.get('action') ?? '';
  const filter = p.form.get('filter') ?? '';
  const applies = p.lines.filter((l) => l.ok).length;
  const args = [...p.form].filter(([k]) => k.startsWith('arg.'));
  return html`<h1>${action} on <span id="bulk-count">${p.lines.length}</span> machines?</h1>
  <p class="meta">filter: <a href="${href('/') + (filter ? `?${filter}` : '')}" class="mono">${filter || 'the whole fleet'}</a> · reason: ${p.form.get('reason') ?? ''} ·
    ${applies} would change, ${p.lines.length - applies} would be refused</p>
  <form method="post" action="/bulk/apply" class="filters bulk-confirm">
    <input type="hidden" name="csrf" value="${p.csrf}"><input type="hidden" name="filter" value="${filter}">
    <input type="hidden" name="action" value="${action}"><input type="hidden" name="reason" value="${p.form.get('reason') ?? ''}">
    ${args.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
    <input type="hidden" name="count" value="${p.lines.length}"><input type="hidden" name="digest" value="${p.digest}">
    <button type="submit" id="bulk-confirm">${action} ${p.lines.length} machines</button> <a class="button" href="${href('/') + (filter ? `?${filter}` : '')}">Cancel</a>
  </form>
  ${lineTable(p.lines, 'would')}`;
}

export function bulkResultPage(action: string, filter: string, lines: readonly BulkLine[]): SafeHtml {
  const changed = lines.filter((l) => l.ok).length;
  return html`<h1>${action}: ${changed} of ${lines.length} machines changed</h1>
  <p class="meta"><a href="${href('/') + (filter ? `?${filter}` : '')}">back to the fleet</a> · <a href="/audit#operator-actions">audit trail</a> ${changed < lines.length ? muted('· refused machines were left as they were') : ''}</p>
  ${lineTable(lines, 'result')}`;
}
