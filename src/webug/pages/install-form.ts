// The machine page's install form (in the slot action-forms.ts leaves for it):
// an image URL, its SHA-256, the target device and an optional post-install
// command, posted like every action form (CSRF token, reason). While a request
// is pending it says so instead: the action would refuse anyway.
import { ACTIONS } from '../../actions/index.ts';
import { html, href, type SafeHtml } from '../html.ts';
import type { MachineDetail } from '../machine.ts';

const FIELDS = [
  { name: 'image', label: 'image URL', placeholder: 'https://images.example.com/os.img', size: 40 },
  { name: 'sha256', label: 'SHA-256', placeholder: '64 hex digits', size: 40 },
  { name: 'device', label: 'device', placeholder: '/dev/sda', size: 12 },
  { name: 'postInstallCommand', label: 'post-install command', placeholder: 'optional shell command', size: 28 },
] as const;

export function installForm(m: MachineDetail, csrf: string): SafeHtml {
  const i = m.installation;
  if (i && (i.phase === 'pending' || i.phase === 'installing')) {
    return html`<div class="action-form install-form" data-action="install"><b>install</b> <span class="muted">generation ${String(i.generation)} is ${i.phase}; cancel-install it before requesting another</span></div>`;
  }
  const required = new Set(ACTIONS.install!.arguments.filter((a) => a.required).map((a) => a.name));
  return html`<form class="action-form install-form" method="post" action="${href(`/machines/${m.machineId}/actions/install`)}" data-action="install">
    <input type="hidden" name="csrf" value="${csrf}">
    <b>install</b> <span class="muted">${ACTIONS.install!.summary}</span><br>
    ${FIELDS.map((f) => html`<label>${f.label}<input name="arg.${f.name}" placeholder="${f.placeholder}" size="${String(f.size)}" ${required.has(f.name) ? html`required` : ''}></label>`)}
    <label>reason<input name="reason" required size="28" placeholder="why (recorded in the audit trail)"></label>
    <button type="submit">install</button></form>`;
}
