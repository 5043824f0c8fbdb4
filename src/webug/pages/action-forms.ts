// The action forms of `--allow-actions`: one form per action on the machine
// page (each asks for a reason), the fleet page's bulk form for the current
// filter, and the session line in the header. The forms sit outside the live
// region, so a refresh never wipes what an operator is typing.
import { ACTIONS, type ActionDefinition } from '../../actions/index.ts';
import type { BrowserSession } from '../browser-sessions.ts';
import { html, href, type SafeHtml } from '../html.ts';
import type { MachineDetail } from '../machine.ts';
import { muted } from './format.ts';
import { installForm } from './install-form.ts';

/** What the pages know about the browser's session: none (not logged in), or its name, role and CSRF token. */
export type Viewer = { readonly name: string; readonly role: string; readonly csrf: string } | null;

export function viewerOf(session: BrowserSession | undefined): Viewer {
  return session ? { name: session.token.name, role: session.token.role, csrf: session.csrf } : null;
}

/** Actions with their own form elsewhere: `install` is filled in by the install form slot. */
const OWN_FORM = new Set(['install']);

function argumentFields(a: Pick<ActionDefinition, 'arguments'>): SafeHtml {
  return html`${a.arguments.map((s) =>
    s.oneOf
      ? html`<label>${s.name}<select name="arg.${s.name}">${s.required ? '' : html`<option value="">—</option>`}${s.oneOf.map((v) => html`<option value="${v}">${v}</option>`)}</select></label>`
      : html`<label>${s.name}<input name="arg.${s.name}" placeholder="${s.description}" size="24" ${s.required ? html`required` : ''}></label>`,
  )}`;
}

function loginHint(viewer: Viewer, next: string): SafeHtml | undefined {
  if (!viewer) return html`<p class="meta"><a id="login-link" href="${href('/login', { next })}">Log in</a> with an operator token to act.</p>`;
  if (viewer.role !== 'operator') return html`<p class="meta">Logged in as ${viewer.name} (${viewer.role}): looking only.</p>`;
  return undefined;
}

/** The slot of the install form (install-form.ts): an `install` request needs an image URL, digest and device. */
export function installFormSlot(m: MachineDetail, viewer: Viewer): SafeHtml {
  return html`<div id="install-form-slot" class="install-form-slot">${viewer ? installForm(m, viewer.csrf) : ''}</div>`;
}

export function machineActionForms(m: MachineDetail, viewer: Viewer): SafeHtml {
  if (!m.exists) return html``;
  const next = `/machines/${m.machineId}`;
  const hint = loginHint(viewer, next);
  if (hint || !viewer) return html`<h2>Actions</h2>${hint}`;
  return html`<h2>Actions</h2><div class="actions">${Object.values(ACTIONS)
    .filter((a) => !OWN_FORM.has(a.name))
    .map(
      (a) => html`<form class="action-form" method="post" action="${href(`/machines/${m.machineId}/actions/${a.name}`)}" data-action="${a.name}">
      <input type="hidden" name="csrf" value="${viewer.csrf}">
      <b>${a.name}</b> <span class="muted">${a.summary}</span><br>
      ${argumentFields(a)}<label>reason<input name="reason" required size="28" placeholder="why (recorded in the audit trail)"></label>
      <button type="submit">${a.name}</button></form>`,
    )}${installFormSlot(m, viewer)}</div>`;
}

/** The fleet page's bulk form: acts on what the current filter selects, after a preview. */
export function bulkActionForm(filter: string, viewer: Viewer, next: string): SafeHtml {
  const hint = loginHint(viewer, next);
  if (hint || !viewer) return hint ?? html``;
  const actions = Object.values(ACTIONS).filter((a) => !OWN_FORM.has(a.name));
  return html`<details id="bulk-actions" class="panel"><summary>Bulk action on the machines this filter selects</summary>
  <form class="filters bulk-form" method="post" action="/bulk/preview">
    <input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="filter" value="${filter}">
    <label>action<select name="action">${actions.map((a) => html`<option value="${a.name}">${a.name}</option>`)}</select></label>
    ${[...new Map(actions.flatMap((a) => a.arguments.map((s) => [s.name, s] as const))).values()].map(
      (s) => html`<label>${s.name}<input name="arg.${s.name}" placeholder="${s.description}" size="16"></label>`,
    )}
    <label>reason<input name="reason" required size="28" placeholder="why (recorded in the audit trail)"></label>
    <button type="submit">Preview</button> ${muted('nothing changes before you confirm')}
  </form></details>`;
}

/** "alice (operator) · log out", or a login link. */
export function sessionLine(viewer: Viewer): SafeHtml {
  if (!viewer) return html`<a class="session" href="/login">log in</a>`;
  return html`<form class="session" method="post" action="/logout"><input type="hidden" name="csrf" value="${viewer.csrf}">${viewer.name} (${viewer.role}) <button type="submit" id="logout">log out</button></form>`;
}
