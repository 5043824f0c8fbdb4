// One machine: explain first (the question an operator comes with), then
// work, backoffs, every tag decoded, and the history newest first.
import type { AuditEntry } from '../../bmdb/index.ts';
import type { ProcessExplain } from '../explain.ts';
import { html, href, type SafeHtml } from '../html.ts';
import type { MachineDetail, TagValue } from '../machine.ts';
import { machineActionForms, type Viewer } from './action-forms.ts';
import { operatorActions } from './audit-page.ts';
import { badge, isoSeconds, muted, sessionLink, span, time } from './format.ts';

function explainPanel(e: ProcessExplain): SafeHtml {
  return html`<div class="panel explain" data-process="${e.process}">
    <h2>${e.process}: ${e.candidate ? badge('candidate now', 'ok') : badge('not a candidate', 'idle')}</h2>
    <ul>${e.clauses.map(
      (c) => html`<li data-clause="${c.id}" data-holds="${String(c.holds)}"><span class="${c.holds ? 'yes' : 'no'}">${c.holds ? '✔' : '✘'}</span> ${c.description}
        ${c.details.map((d) => html`<div class="why">${d}</div>`)}</li>`,
    )}</ul></div>`;
}

/** The derived state, and why the machine is stuck when it is. */
function statePanel(m: MachineDetail, now: number): SafeHtml {
  const s = m.state;
  if (!s) return html``;
  const limit = s.limitSeconds === null ? 'no limit in this state' : `limit ${span(s.limitSeconds * 1000)}`;
  return html`<p class="meta machine-state" data-state="${s.state}" data-stuck="${String(s.stuck)}">state ${badge(s.state, s.stuck ? 'bad' : 'plain')} since ${time(s.since, now)} · ${limit}
    ${s.stuckReason ? html`<br><span class="error stuck-reason">${s.stuckReason}</span>` : ''}</p>`;
}

function tagPanel(t: TagValue, now: number): SafeHtml {
  if (!t.present) return html`<div class="panel tag-panel" data-tag="${t.name}"><h2>${t.name} ${muted('absent')}</h2></div>`;
  const wide = t.fields.some((f) => f.decoded?.type !== undefined);
  return html`<div class="panel tag-panel ${wide ? 'wide' : ''}" data-tag="${t.name}"><h2>${t.name}</h2><dl class="kv">${t.fields.map((f) => {
    let value: SafeHtml;
    if (f.decoded) {
      const d = f.decoded;
      value = html`${d.type ? html`<span class="muted">${d.type}, ${d.size} bytes</span>` : ''}<pre class="summary">${d.summary.join('\n')}</pre>
        ${d.hexPreview !== undefined ? html`<span class="mono">${d.hexPreview}</span>` : ''}
        ${d.error ? html`<div class="error">${d.error}</div>` : ''}
        ${d.json !== null ? html`<details id="json-${t.name}-${f.name}"><summary>protobuf JSON</summary><pre>${JSON.stringify(d.json, null, 2)}</pre></details>` : ''}`;
    } else if (f.value !== null && f.type.startsWith('timestamp')) {
      value = html`<span class="mono">${isoSeconds(new Date(f.value))}</span> (${time(new Date(f.value), now)})`;
    } else {
      value = f.value === null ? muted('NULL') : html`<span class="mono">${f.value}</span>`;
    }
    return html`<dt title="${f.type}">${f.name}</dt><dd>${value}</dd>`;
  })}</dl></div>`;
}

const PHASE_TONE = { pending: 'idle', installing: 'busy', done: 'ok', failed: 'bad' } as const;

function installationLine(m: MachineDetail): SafeHtml {
  const i = m.installation;
  if (!i) return html``;
  return html`<p class="meta installation" data-phase="${i.phase}" data-generation="${String(i.generation)}">OS installation: ${badge(i.phase, PHASE_TONE[i.phase])} ${i.summary}${i.what ? html` · <span class="mono">${i.what}</span>` : ''}</p>`;
}

/** With `--allow-actions`: the action forms, and the page's audit section shows the operator actions on it. */
export interface MachinePageActions {
  readonly viewer: Viewer;
  readonly audit: readonly AuditEntry[];
}

export function machinePage(m: MachineDetail, actions?: MachinePageActions): SafeHtml {
  const now = Date.now();
  return html`<h1>Machine <span class="mono">${m.machineId}</span></h1>
  <div id="live">
  <p class="meta">${m.exists ? html`created ${time(m.createdAt, now)}` : badge('deleted: only its history remains', 'warn')} ·
    <a href="${href('/audit', { machine: m.machineId })}">audit trail</a> · <a href="${href(`/api/machines/${m.machineId}`)}">JSON</a></p>
  ${installationLine(m)}
  ${statePanel(m, now)}
  <div class="grid">${m.explain.map(explainPanel)}</div>
  <h2>Active work</h2>
  <table class="work"><thead><tr><th>process</th><th>session</th><th>component</th><th>runtime</th><th>since</th><th>session deadline</th></tr></thead><tbody>
  ${m.work.length ? m.work.map((w) => html`<tr><td>${badge(w.process, 'busy')}</td><td>${sessionLink(w.sessionId)}</td><td>${w.component ?? ''}</td>
      <td class="mono">${w.runtimeInfo ?? ''}</td><td>${time(w.since, now)}</td>
      <td>${time(w.deadline, now)} ${w.sessionLive === false ? badge('expired', 'bad') : ''}</td></tr>`) : html`<tr><td colspan="6" class="muted">none</td></tr>`}
  </tbody></table>
  <h2>Backoffs</h2>
  <table class="backoffs"><thead><tr><th>process</th><th>state</th><th>until</th><th>last interval</th><th>cause</th></tr></thead><tbody>
  ${m.backoffs.length ? m.backoffs.map((b) => html`<tr><td>${b.process}</td><td>${b.active ? badge('active', 'warn') : badge('expired')}</td><td>${time(b.until, now)}</td>
      <td class="num">${b.lastIntervalSeconds === null ? '' : `${b.lastIntervalSeconds} s`}</td><td class="cause">${b.cause}</td></tr>`) : html`<tr><td colspan="5" class="muted">none</td></tr>`}
  </tbody></table>
  <h2>Tags</h2>
  <div class="grid">${m.tags.filter((t) => t.present).map((t) => tagPanel(t, now))}</div>
  <p class="meta absent-tags">absent: ${m.tags.filter((t) => !t.present).map((t) => html`<span class="tag" data-absent="${t.name}">${t.name}</span>`)}</p>
  <h2>History ${m.historyTruncated ? muted(`(newest ${m.history.length}; see the audit trail for the rest)`) : ''}</h2>
  <table class="history"><thead><tr><th>time</th><th>process</th><th>event</th><th>cause</th></tr></thead><tbody>
  ${m.history.length ? m.history.map((h) => html`<tr><td class="mono" title="${h.timestamp.toISOString()}">${isoSeconds(h.timestamp)}</td><td>${h.process}</td>
      <td>${badge(h.event, h.event === 'Failed' ? 'bad' : h.event === 'Finished' ? 'ok' : h.event === 'Started' ? 'busy' : 'plain')}</td><td class="cause">${h.failedCause ?? ''}</td></tr>`) : html`<tr><td colspan="4" class="muted">no history</td></tr>`}
  </tbody></table>
  ${actions ? html`<div id="audit-section">${operatorActions(actions.audit, m.machineId)}</div>` : ''}
  </div>
  ${actions ? html`<div id="machine-actions">${machineActionForms(m, actions.viewer)}</div>` : ''}`;
}
