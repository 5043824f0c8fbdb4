// Formatting shared by the pages: times with their age, status badges, ids.
import { html, href, type SafeHtml } from '../html.ts';
import type { Tone } from '../status.ts';

export function isoSeconds(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** "42s", "3m 10s", "5h 2m", "3d 4h". */
export function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function relative(d: Date, now: number): string {
  const ms = d.getTime() - now;
  return ms <= 0 ? `${span(ms)} ago` : `in ${span(ms)}`;
}

/** A timestamp shown as its age, with the exact time on hover. */
export function time(d: Date | null, now: number): SafeHtml {
  if (!d) return html`<span class="muted">—</span>`;
  return html`<time datetime="${d.toISOString()}" title="${isoSeconds(d)}">${relative(d, now)}</time>`;
}

export function badge(label: string, tone: Tone | 'plain' = 'plain'): SafeHtml {
  return html`<span class="badge ${tone}">${label}</span>`;
}

export function machineLink(id: string, short = false): SafeHtml {
  return html`<a class="mono" href="${href(`/machines/${encodeURIComponent(id)}`)}" title="${id}">${short ? id.slice(0, 8) : id}</a>`;
}

export function sessionLink(id: string): SafeHtml {
  return html`<a class="mono" href="${href(`/sessions/${encodeURIComponent(id)}`)}" title="${id}">${id.slice(0, 8)}</a>`;
}

export function muted(text: string): SafeHtml {
  return html`<span class="muted">${text}</span>`;
}
