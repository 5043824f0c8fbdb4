// Sessions: the list, and one session with the work it holds.
import { html, href, type SafeHtml } from '../html.ts';
import type { SessionDetail, SessionSummary } from '../sessions.ts';
import { badge, machineLink, muted, sessionLink, time } from './format.ts';

const liveBadge = (live: boolean) => (live ? badge('live', 'ok') : badge('expired', 'bad'));

export function sessionsPage(list: { sessions: readonly SessionSummary[]; truncated: boolean }): SafeHtml {
  const now = Date.now();
  return html`<h1>Sessions</h1><div id="live">
  <table class="sessions"><thead><tr><th>session</th><th>component</th><th>state</th><th>runtime</th><th>created</th><th>deadline</th><th class="num">work held</th></tr></thead><tbody>
  ${list.sessions.length ? list.sessions.map((s) => html`<tr><td>${sessionLink(s.sessionId)}</td><td>${s.componentName}</td><td>${liveBadge(s.live)}</td>
      <td class="mono">${s.runtimeInfo}</td><td>${time(s.createdAt, now)}</td><td>${time(s.deadline, now)}</td><td class="num">${s.workCount}</td></tr>`) : html`<tr><td colspan="7" class="muted">no sessions</td></tr>`}
  </tbody></table>${list.truncated ? html`<p class="meta">Only the first ${list.sessions.length} sessions are shown.</p>` : ''}
  <p class="meta"><a href="/api/sessions">JSON</a></p></div>`;
}

export function sessionPage(d: SessionDetail): SafeHtml {
  const now = Date.now();
  const s = d.session;
  return html`<h1>Session <span class="mono">${s.sessionId}</span></h1><div id="live">
  <div class="panel"><dl class="kv">
    <dt>component</dt><dd>${s.componentName}</dd><dt>state</dt><dd>${liveBadge(s.live)}</dd>
    <dt>runtime</dt><dd class="mono">${s.runtimeInfo}</dd><dt>created</dt><dd>${time(s.createdAt, now)}</dd>
    <dt>interval</dt><dd>${s.intervalSeconds} s</dd><dt>deadline</dt><dd>${time(s.deadline, now)}</dd>
  </dl></div>
  <h2>Work held (${d.work.length}${d.workTruncated ? '+' : ''})</h2>
  <table class="work"><thead><tr><th>machine</th><th>process</th><th>since</th></tr></thead><tbody>
  ${d.work.length ? d.work.map((w) => html`<tr><td>${machineLink(w.machineId)}</td><td>${badge(w.process, 'busy')}</td><td>${time(w.since, now)}</td></tr>`) : html`<tr><td colspan="3" class="muted">none</td></tr>`}
  </tbody></table>
  <p class="meta"><a href="${href(`/api/sessions/${s.sessionId}`)}">JSON</a> ${muted('')}</p></div>`;
}
