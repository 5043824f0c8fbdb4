// The browser side of `--allow-actions`: logging in with a token, the machine
// page's action buttons and the fleet page's bulk actions. Every form POST
// needs the session's CSRF token (403 without); every action runs through
// src/actions with the session's token name as the actor (`web:<name>`).
// Bulk actions go select by filter → preview (a dry run, with the count) →
// confirm; the confirmation carries the count and a digest of the previewed
// machines and is refused (409) when the filter now selects others.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ACTIONS, ActionRefusedError, runAction, UnknownMachineError } from '../actions/index.ts';
import { ConflictError, ForbiddenError, UnauthenticatedError, actionHttpError, type ActionApi } from './actions-api.ts';
import { findApiToken } from './api-tokens.ts';
import { csrfMatches, type BrowserSession, type BrowserSessions } from './browser-sessions.ts';
import type { WebugContext } from './context.ts';
import { BadRequestError } from './errors.ts';
import { selectFleet } from './fleet.ts';
import type { SafeHtml } from './html.ts';
import { bulkPreviewPage, bulkResultPage, type BulkLine } from './pages/bulk-page.ts';
import { loginPage } from './pages/login-page.ts';
import { pathId } from './params.ts';
import { readFormBody } from './request-body.ts';

/** A bulk action never touches more machines than this: narrow the filter. */
export const MAX_BULK_MACHINES = 1000;

export const BROWSER_POST_PATHS = /^\/(login|logout|bulk\/preview|bulk\/apply|machines\/[^/]+\/actions\/[a-z-]+)$/;
const MACHINE_ACTION = /^\/machines\/([^/]+)\/actions\/([a-z-]+)$/;

export interface BrowserActions {
  readonly api: ActionApi;
  readonly sessions: BrowserSessions;
}

export type BrowserOutcome =
  | { readonly kind: 'redirect'; readonly location: string; readonly cookie?: string }
  | { readonly kind: 'page'; readonly status: number; readonly title: string; readonly body: SafeHtml };

/** A local path to go back to: one leading slash (never `//host`), else the fleet page. */
export function localPath(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}

/** Refuses a form posted from another origin (the browser says so in Origin); SameSite and CSRF are the main guards. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ForbiddenError('the Origin header is not a URL');
  }
  if (host !== req.headers.host) throw new ForbiddenError(`a form from ${origin} may not act here`);
}

function operatorSession(b: BrowserActions, req: IncomingMessage, form: URLSearchParams): BrowserSession {
  const session = b.sessions.find(req);
  if (!session) throw new UnauthenticatedError('log in with an operator token first (/login)');
  if (!csrfMatches(session, form.get('csrf') ?? undefined)) throw new ForbiddenError('missing or wrong CSRF token: reload the page and try again');
  if (session.token.role !== 'operator') throw new ForbiddenError(`token ${session.token.name} has the ${session.token.role} role; actions need operator`);
  return session;
}

/** The action's arguments from the form's `arg.<name>` fields; empty ones are left out. */
function formArguments(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form) if (k.startsWith('arg.') && v !== '') out[k.slice(4)] = v;
  return out;
}

function formReason(form: URLSearchParams): string {
  const reason = (form.get('reason') ?? '').trim();
  if (reason === '') throw new BadRequestError('say why: the reason is required for actions from the browser');
  return reason;
}

function knownAction(name: string | null): string {
  if (!name || !Object.hasOwn(ACTIONS, name)) throw new BadRequestError(`unknown action ${JSON.stringify(name ?? '')}`);
  return name;
}

/** Order-independent digest of a selection: what the preview showed, checked again at confirmation. */
export function selectionDigest(ids: readonly string[]): string {
  return createHash('sha256').update([...ids].sort().join('\n')).digest('hex').slice(0, 32);
}

async function bulkSelection(ctx: WebugContext, filter: string, signal: AbortSignal) {
  const rows = await selectFleet(ctx, new URLSearchParams(filter), MAX_BULK_MACHINES + 1, signal);
  if (rows.length > MAX_BULK_MACHINES) throw new BadRequestError(`the filter selects more than ${MAX_BULK_MACHINES} machines; narrow it`);
  if (rows.length === 0) throw new BadRequestError('the filter selects no machine');
  return rows;
}

async function runBulk(b: BrowserActions, session: BrowserSession, rows: ReadonlyArray<{ machineId: string; providerId: string | null }>, form: URLSearchParams, dryRun: boolean, signal: AbortSignal): Promise<BulkLine[]> {
  const action = knownAction(form.get('action'));
  const reason = formReason(form);
  const args = formArguments(form);
  const lines: BulkLine[] = [];
  for (const m of rows) {
    signal.throwIfAborted();
    try {
      const out = await runAction(b.api.bmdb, { action, machineId: m.machineId, actor: `web:${session.token.name}`, reason, arguments: args, dryRun }, { signal, processor: 'webug' });
      lines.push({ machineId: m.machineId, providerId: m.providerId, ok: true, result: out.result });
    } catch (err) {
      if (!(err instanceof ActionRefusedError || err instanceof UnknownMachineError)) throw actionHttpError(err);
      lines.push({ machineId: m.machineId, providerId: m.providerId, ok: false, result: err.message });
    }
  }
  return lines;
}

export async function handleBrowserPost(b: BrowserActions, ctx: WebugContext, req: IncomingMessage, path: string, signal: AbortSignal): Promise<BrowserOutcome> {
  checkOrigin(req);
  const form = await readFormBody(req, signal);
  if (path === '/login') {
    const token = findApiToken(b.api.tokens, form.get('token') ?? '');
    const next = localPath(form.get('next'));
    if (!token) return { kind: 'page', status: 401, title: 'Log in', body: loginPage(next, 'that token is not in the tokens file') };
    const { cookie } = b.sessions.open(token);
    return { kind: 'redirect', location: next, cookie };
  }
  if (path === '/logout') {
    const session = b.sessions.find(req);
    if (!session) return { kind: 'redirect', location: '/' };
    if (!csrfMatches(session, form.get('csrf') ?? undefined)) throw new ForbiddenError('missing or wrong CSRF token');
    return { kind: 'redirect', location: '/', cookie: b.sessions.close(session) };
  }
  const session = operatorSession(b, req, form);
  const machineAction = MACHINE_ACTION.exec(path);
  if (machineAction) {
    const machineId = pathId(path.slice(0, path.indexOf('/actions/')), '/machines/');
    try {
      const out = await runAction(
        b.api.bmdb,
        { action: machineAction[2]!, machineId, actor: `web:${session.token.name}`, reason: formReason(form), arguments: formArguments(form) },
        { signal, processor: 'webug' },
      );
      return { kind: 'redirect', location: `/machines/${out.machineId}?done=${encodeURIComponent(out.auditId ?? '')}#operator-actions` };
    } catch (err) {
      throw actionHttpError(err);
    }
  }
  const filter = form.get('filter') ?? '';
  const rows = await bulkSelection(ctx, filter, signal);
  if (path === '/bulk/preview') {
    const lines = await runBulk(b, session, rows, form, true, signal);
    return { kind: 'page', status: 200, title: 'Bulk action', body: bulkPreviewPage({ form, lines, digest: selectionDigest(rows.map((r) => r.machineId)), csrf: session.csrf }) };
  }
  // /bulk/apply: the same machines as previewed, or nothing.
  const count = Number(form.get('count'));
  const digest = selectionDigest(rows.map((r) => r.machineId));
  if (rows.length !== count || digest !== form.get('digest')) {
    throw new ConflictError(`the selection changed since the preview (${count} machines then, ${rows.length} now${rows.length === count ? ', not the same ones' : ''}): preview again`);
  }
  const lines = await runBulk(b, session, rows, form, false, signal);
  return { kind: 'page', status: 200, title: 'Bulk action done', body: bulkResultPage(knownAction(form.get('action')), filter, lines) };
}
