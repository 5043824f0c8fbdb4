// The fleet list: counts, the filter form, one page of machines, paging.
import { PROCESSES, PROVIDER_STATUSES, PROVIDERS } from '../../bmdb/index.ts';
import type { FleetPage } from '../fleet.ts';
import { fleetFilterQuery, FLEET_SORTS, STUCK_FILTERS } from '../fleet-query.ts';
import { html, href, type SafeHtml } from '../html.ts';
import { bulkActionForm, type Viewer } from './action-forms.ts';
import { badge, machineLink, muted, time } from './format.ts';

function options(values: readonly string[], selected: string | undefined, blank: string): SafeHtml {
  return html`<option value="">${blank}</option>${values.map((v) => html`<option value="${v}" ${v === selected ? html`selected` : ''}>${v}</option>`)}`;
}

function counts(page: FleetPage): SafeHtml {
  const c = page.counts;
  const card = (k: string, v: number, link?: string) => html`<div class="card"><div class="k">${link ? html`<a href="${link}">${k}</a>` : k}</div><div class="v">${v.toLocaleString('en-US')}</div></div>`;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return html`<div class="cards">${card('machines', c.machines, '/')}${Object.entries(c.tags).map(([tag, n]) => card(tag, n, href('/', { has: tag })))}
    ${card('active work', sum(c.activeWork), href('/', { work: 'any' }))}${card('active backoffs', sum(c.activeBackoffs), href('/', { backoff: 'any' }))}
    <div class="card stuck-count"><div class="k"><a href="${href('/', { stuck: 'any' })}">stuck</a></div><div class="v ${c.stuck ? 'bad-text' : ''}">${c.stuck.toLocaleString('en-US')}</div></div></div>`;
}

function filterForm(page: FleetPage, tagNames: readonly string[]): SafeHtml {
  const f = page.filter;
  const activity = ['any', 'none', ...PROCESSES];
  const tagSelect = (name: 'has' | 'lacks', label: string) =>
    html`<label>${label}<select name="${name}">${options(tagNames, f[name][0], '—')}</select></label>`;
  const ms = (v: number | undefined) => (v === undefined ? '' : `${v}ms`);
  return html`<form class="filters" method="get" action="/">
    <label>search<input name="q" value="${f.q ?? ''}" placeholder="machine id prefix, provider id, address" size="34" autofocus></label>
    <label>provider<select name="provider">${options(PROVIDERS, f.provider, 'any')}</select></label>
    <label>provider status<select name="status">${options(PROVIDER_STATUSES, f.status, 'any')}</select></label>
    ${tagSelect('has', 'with tag')}${tagSelect('lacks', 'without tag')}
    <label>active work<select name="work">${options(activity, f.work, '—')}</select></label>
    <label>active backoff<select name="backoff">${options(activity, f.backoff, '—')}</select></label>
    <label>heartbeat older than<input name="hb_older" value="${ms(f.hbOlderMs)}" placeholder="10m" size="6"></label>
    <label>heartbeat newer than<input name="hb_newer" value="${ms(f.hbNewerMs)}" placeholder="1m" size="6"></label>
    <label>stuck<select name="stuck">${options(STUCK_FILTERS, f.stuck, '—')}</select></label>
    <label>sort<select name="sort">${FLEET_SORTS.map((s) => html`<option value="${s}" ${s === f.sort ? html`selected` : ''}>${s === 'heartbeat' ? 'heartbeat time' : s === 'created' ? 'created' : 'machine id'}</option>`)}</select></label>
    <label>order<select name="dir"><option value="asc">ascending</option><option value="desc" ${f.dir === 'desc' ? html`selected` : ''}>descending</option></select></label>
    <button type="submit">Apply</button> <a class="button" href="/">Reset</a>
  </form>`;
}

function row(r: FleetPage['rows'][number], now: number): SafeHtml {
  return html`<tr data-machine="${r.machineId}">
    <td>${machineLink(r.machineId, true)}</td>
    <td class="trunc" title="${r.providerId ?? ''}">${r.provider ? html`${r.provider} <span class="mono">${r.providerId}</span>` : muted('not provided')}</td>
    <td class="mono trunc" title="${r.address ?? ''}">${r.address ?? ''}${r.location ? html` <span class="muted">${r.location}</span>` : ''}</td>
    <td class="wrap">${badge(r.status.label, r.status.tone)}${r.state?.stuck ? html` <span class="badge bad stuck" title="${r.state.stuckReason ?? ''}">stuck: ${r.state.state}</span>` : ''}${r.providerStatus ? html` <span class="muted">${r.providerStatus}</span>` : ''}</td>
    <td>${time(r.heartbeatAt, now)}</td>
    <td class="wrap tags">${r.tags.map((t) => html`<span class="tag">${t}</span>`)}</td>
    <td class="wrap">${r.work.map((w) => html`<div>${badge(w.process, 'busy')} <a class="mono" href="${href(`/sessions/${w.sessionId}`)}">${w.component ?? w.sessionId.slice(0, 8)}</a></div>`)}</td>
    <td class="wrap">${r.backoffs.map((b) => html`<div>${badge(b.process, 'warn')} until ${time(b.until, now)}: <span class="cause">${b.cause}</span></div>`)}</td>
  </tr>`;
}

/** `bulk`: with `--allow-actions`, the bulk form for the current filter. */
export function fleetPage(page: FleetPage, tagNames: readonly string[], renderMs: number, search: URLSearchParams, bulk?: { viewer: Viewer }): SafeHtml {
  const apiLink = `/api/machines${search.size ? `?${search.toString()}` : ''}`;
  const now = Date.now();
  const query = fleetFilterQuery(page.filter);
  const firstLink = href('/', query);
  const nextLink = page.next ? href('/', { ...query, after: page.next }) : undefined;
  const filterSearch = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k === 'sort' || k === 'dir' || k === 'limit' || v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) if (item !== '') filterSearch.append(k, item);
  }
  return html`<h1>Fleet</h1>
  ${filterForm(page, tagNames)}
  ${bulk ? bulkActionForm(filterSearch.toString(), bulk.viewer, firstLink) : ''}
  <div id="live">
    ${counts(page)}
    <table class="fleet"><thead><tr><th>machine</th><th>provider</th><th>address</th><th>status</th><th>heartbeat</th><th>tags</th><th>active work</th><th>active backoffs</th></tr></thead>
    <tbody>${page.rows.length ? page.rows.map((r) => row(r, now)) : html`<tr><td colspan="8" class="muted">No machine matches.</td></tr>`}</tbody></table>
    <div class="pager">
      ${page.filter.after ? html`<a href="${firstLink}">« first page</a>` : ''}
      ${nextLink ? html`<a href="${nextLink}" rel="next">next page »</a>` : muted('last page')}
      <span class="meta">${page.rows.length} rows · query ${page.queryMs.toFixed(1)} ms · page ${renderMs.toFixed(1)} ms ·
        <a href="${apiLink}">JSON</a></span>
    </div>
    <details id="fleet-sql"><summary>SQL used</summary><pre>${page.sql}</pre></details>
  </div>`;
}
