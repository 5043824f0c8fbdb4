// The page shell: header with the database and schema version, navigation,
// the stylesheet, and (on live pages) the refresh script.
import { html, scriptJson, unsafeRaw, type SafeHtml } from '../html.ts';
import { isoSeconds } from './format.ts';

export interface LayoutInfo {
  readonly title: string;
  readonly nav: 'fleet' | 'sessions' | 'audit' | 'machine' | 'session' | 'error' | 'login' | 'bulk';
  readonly database: string;
  readonly schemaVersion: number | null;
  readonly latestKnownVersion: number | null;
  /** CSP nonce for the inline script. */
  readonly nonce: string;
  /** Refresh period of the live region; undefined for static pages. */
  readonly liveMs?: number | undefined;
  readonly renderedAt: Date;
  /** With `--allow-actions`: who is logged in (with the log-out form) or a login link. */
  readonly session?: SafeHtml | undefined;
}

const STYLE = unsafeRaw(`
:root{--fg:#1d2430;--muted:#6b7280;--line:#e3e6eb;--bg:#f6f7f9;--card:#fff;--accent:#1f5fbf;--ok:#1a7f37;--ok-bg:#e6f4ea;--warn:#8a5a00;--warn-bg:#fff4d6;--bad:#b42318;--bad-bg:#fde8e7;--busy:#1f5fbf;--busy-bg:#e5efff;--idle:#4b5563;--idle-bg:#eef0f3}
*{box-sizing:border-box}body{margin:0;font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header{display:flex;align-items:center;gap:18px;padding:8px 16px;background:#1d2430;color:#e8ebf0}
header .brand{font-weight:650;letter-spacing:.02em}header nav a{color:#c9d2e0;margin-right:12px}header nav a.on{color:#fff;font-weight:600}
header .db{margin-left:auto;color:#9aa5b5;font-size:12px}header .db b{color:#e8ebf0;font-weight:500}
main{padding:12px 16px 40px}h1{font-size:17px;margin:4px 0 10px}h2{font-size:14px;margin:18px 0 6px}
.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f2f5;font-weight:600;font-size:12px;color:#374151;white-space:nowrap}tr:hover td{background:#fafbfc}
.muted{color:var(--muted)}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:11.5px;line-height:18px;white-space:nowrap;background:var(--idle-bg);color:var(--idle);margin:1px 3px 1px 0}
.bad-text{color:var(--bad)}
form.session{display:inline;margin-right:12px}a.session{margin-right:12px}.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:8px}.action-form{background:var(--card);border:1px solid var(--line);border-radius:4px;padding:6px 8px}.action-form label{margin-right:6px}
.badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.warn{background:var(--warn-bg);color:var(--warn)}.badge.bad{background:var(--bad-bg);color:var(--bad)}.badge.busy{background:var(--busy-bg);color:var(--busy)}
.tag{display:inline-block;padding:0 5px;border:1px solid var(--line);border-radius:3px;font-size:11px;margin:1px 2px 1px 0;color:#374151;background:#fbfbfc}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px}.card{background:var(--card);border:1px solid var(--line);border-radius:4px;padding:6px 10px;min-width:110px}
.card .k{font-size:11px;color:var(--muted)}.card .v{font-size:16px;font-weight:600;font-variant-numeric:tabular-nums}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;background:var(--card);border:1px solid var(--line);padding:8px;margin-bottom:10px;border-radius:4px}
form.filters label{display:flex;flex-direction:column;font-size:11px;color:var(--muted);gap:2px}
input,select,button{font:inherit;padding:3px 6px;border:1px solid #cbd2dc;border-radius:3px;background:#fff}button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
a.button{display:inline-block;padding:3px 8px;border:1px solid #cbd2dc;border-radius:3px;background:#fff}
.pager{display:flex;gap:12px;align-items:center;margin:8px 0}.meta{font-size:12px;color:var(--muted)}
.live{font-size:12px;color:var(--muted);margin-left:auto}.live .dot{display:inline-block;width:7px;height:7px;border-radius:50%;background:var(--ok);margin-right:5px}
.live.stale .dot{background:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px;align-items:start}
table.fleet td{white-space:nowrap}table.fleet td.trunc{max-width:200px;overflow:hidden;text-overflow:ellipsis}table.fleet td.wrap{white-space:normal}table.fleet td.tags{min-width:250px}
.panel.wide{grid-column:1/-1}.panel{background:var(--card);border:1px solid var(--line);border-radius:4px;padding:8px 10px}.panel h2{margin:0 0 6px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-all}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f8fa;border:1px solid var(--line);padding:6px;margin:4px 0;max-height:420px;overflow:auto}
.explain li{margin:2px 0;list-style:none}.explain ul{padding-left:0;margin:4px 0}.yes{color:var(--ok)}.no{color:var(--bad)}.explain .why{color:var(--muted);margin-left:22px;word-break:break-all}
details summary{cursor:pointer;color:var(--muted);font-size:12px}
.error{background:var(--bad-bg);color:var(--bad);padding:8px 10px;border-radius:4px}
`);

const SCRIPT = unsafeRaw(`
(() => {
  const cfg = JSON.parse(document.getElementById('webug-live').textContent);
  const stamp = document.getElementById('updated'), box = document.getElementById('live-status');
  let busy = false;
  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const res = await fetch(location.href, { headers: { 'x-webug-live': '1' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('live'), cur = document.getElementById('live');
      if (fresh && cur) {
        const open = [...cur.querySelectorAll('details[open][id]')].map((d) => d.id);
        cur.replaceChildren(...fresh.childNodes);
        for (const id of open) document.getElementById(id)?.setAttribute('open', '');
      }
      stamp.textContent = new Date().toLocaleTimeString();
      box.classList.remove('stale');
    } catch (err) {
      box.classList.add('stale');
      stamp.textContent = 'failed (' + err.message + '), retrying';
    } finally { busy = false; }
  }
  setInterval(refresh, cfg.ms);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) void refresh(); });
})();
`);

export function layout(info: LayoutInfo, body: SafeHtml): string {
  const navLink = (key: LayoutInfo['nav'], path: string, label: string) => html`<a href="${path}" class="${info.nav === key ? 'on' : ''}">${label}</a>`;
  const schema =
    info.schemaVersion === null
      ? 'unknown'
      : info.latestKnownVersion !== null && info.schemaVersion !== info.latestKnownVersion
        ? `${info.schemaVersion} (this build knows ${info.latestKnownVersion})`
        : String(info.schemaVersion);
  const live =
    info.liveMs !== undefined
      ? html`<span class="live" id="live-status"><span class="dot"></span>live · last updated <span id="updated">${info.renderedAt.toLocaleTimeString('en-GB')}</span></span>
          <script type="application/json" id="webug-live">${scriptJson({ ms: info.liveMs })}</script>
          <script nonce="${info.nonce}">${SCRIPT}</script>`
      : html`<span class="live">rendered ${isoSeconds(info.renderedAt)}</span>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${info.title} · webug</title><style>${STYLE}</style></head>
<body><header><span class="brand">bmaas webug</span>
<nav>${navLink('fleet', '/', 'Fleet')}${navLink('sessions', '/sessions', 'Sessions')}${navLink('audit', '/audit', 'Audit')}</nav>
${info.session ?? ''}<span class="db">database <b class="mono">${info.database}</b> · schema version <b>${schema}</b></span></header>
<main>${body}<div class="pager">${live}</div></main></body></html>`.value;
}
