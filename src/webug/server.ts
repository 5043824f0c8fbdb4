// The HTTP edge: authentication, routing, security headers, size limits, and
// the mapping of errors to statuses. Pages and their JSON twins share one
// loader each; only the rendering differs.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Bmdb } from '../bmdb/index.ts';
import { resolveMachineIn } from '../actions/index.ts';
import { ACTION_PATH, actionHttpError, ConflictError, errorKind, ForbiddenError, handleAction, UnauthenticatedError, type ActionApi } from './actions-api.ts';
import { bearerSecret, findApiToken } from './api-tokens.ts';
import { auditCsv, AUDIT_CSV_HEADER, auditLabels, DEFAULT_EXPORT_ROWS, loadAuditPage, MAX_EXPORT_ROWS, parseAuditFilter, streamAudit, type AuditFilter, type AuditLabels } from './audit.ts';
import { authenticate } from './auth.ts';
import { BROWSER_POST_PATHS, handleBrowserPost, localPath, type BrowserActions } from './browser-actions.ts';
import type { BrowserSession } from './browser-sessions.ts';
import type { WebugContext } from './context.ts';
import { BadRequestError, NotFoundError, SchemaMissingError } from './errors.ts';
import { loadFleetPage } from './fleet.ts';
import { html, type SafeHtml } from './html.ts';
import { loadMachine } from './machine.ts';
import { auditPage } from './pages/audit-page.ts';
import { fleetPage } from './pages/fleet-page.ts';
import { layout, type LayoutInfo } from './pages/layout.ts';
import { sessionLine, viewerOf } from './pages/action-forms.ts';
import { loginPage } from './pages/login-page.ts';
import { machinePage } from './pages/machine-page.ts';
import { loadOperatorAudit } from './operator-audit.ts';
import { sessionPage, sessionsPage } from './pages/session-page.ts';
import { intParam, pathId } from './params.ts';
import { listSessions, loadSession } from './sessions.ts';
import { countTags } from './tag-schema.ts';

/** Retry-After (seconds) of a request the database being unreachable failed. */
const OUTAGE_RETRY_AFTER_S = 5;

/** Buffered responses larger than this are refused rather than sent. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Streamed exports stop after this many bytes whatever the row cap. */
export const MAX_EXPORT_BYTES = 64 * 1024 * 1024;

export interface ServerOptions {
  readonly ctx: WebugContext;
  readonly token: string | undefined;
  readonly logger: Logger;
  readonly liveMs: number;
  /** Set with --allow-actions: POST /api/machines/<id>/actions/<action> (actions-api.ts). Absent: read-only. */
  readonly actions?: ActionApi | undefined;
  /** Set with --allow-actions: the login page, the machine page's buttons and the fleet page's bulk actions. */
  readonly browser?: BrowserActions | undefined;
  /** The process's database outage reporter: a request failed by an outage it already logged goes to debug. */
  readonly outage?: Pick<Bmdb['outage'], 'covers'> | undefined;
}

interface Request {
  /** Names the request in the log and in a 500's body. */
  readonly id: string;
  readonly url: URL;
  readonly signal: AbortSignal;
  readonly nonce: string;
  readonly started: number;
  /** The browser session of the request's cookie (with --allow-actions), once authenticated. */
  session?: BrowserSession | undefined;
}

type Json = (req: Request) => Promise<unknown>;
type Page = (req: Request) => Promise<{ title: string; nav: LayoutInfo['nav']; body: SafeHtml; live?: boolean }>;

function securityHeaders(res: ServerResponse, nonce: string): void {
  res.setHeader('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-store');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  let out = body;
  let code = status;
  if (Buffer.byteLength(out) > MAX_RESPONSE_BYTES) {
    code = 500;
    type = 'text/plain; charset=utf-8';
    out = `response larger than ${MAX_RESPONSE_BYTES} bytes refused; narrow the request\n`;
  }
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(out) });
  res.end(out);
}

const machineId = (req: Request, prefix: string) => pathId(req.url.pathname, prefix);

export function createHandler(opts: ServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { ctx, logger } = opts;
  /** The audit filter of a request, checked against the labels the database has (a newer release's too). */
  const auditRequest = async (r: Request): Promise<{ f: AuditFilter; labels: AuditLabels }> => {
    const labels = auditLabels((await ctx.schema(r.signal)).enumLabels);
    return { f: parseAuditFilter(r.url.searchParams, labels), labels };
  };

  const json: Array<[RegExp, Json]> = [
    [/^\/api\/status$/, async (r) => {
      const s = await ctx.schema(r.signal);
      const counts = await ctx.read((db) => countTags(db, s.tags, { signal: r.signal }), { signal: r.signal });
      return { database: ctx.database, schemaVersion: s.schemaVersion, latestKnownVersion: s.latestKnownVersion, tags: s.tags.map((t) => ({ ...t, count: counts[t.name] })) };
    }],
    [/^\/api\/machines$/, (r) => loadFleetPage(ctx, r.url.searchParams, r.signal)],
    [/^\/api\/machines\/[^/]+$/, (r) => loadMachine(ctx, machineId(r, '/api/machines/'), r.signal)],
    [/^\/api\/sessions$/, (r) => listSessions(ctx, r.signal)],
    [/^\/api\/sessions\/[^/]+$/, (r) => loadSession(ctx, machineId(r, '/api/sessions/'), r.signal)],
    [/^\/api\/audit$/, async (r) => loadAuditPage(ctx, (await auditRequest(r)).f, r.signal)],
    [/^\/api\/audit\/actions$/, (r) => loadOperatorAudit(ctx, r.url.searchParams, r.signal)],
    // The CLI's --api resolves machine selectors (id, id prefix, provider id) here.
    [/^\/api\/resolve$/, async (r) => {
      const selector = r.url.searchParams.get('selector');
      if (selector === null || selector.length > 200) throw new BadRequestError('selector: give a machine id, id prefix or provider id (at most 200 characters)');
      try {
        return await ctx.read((db) => resolveMachineIn(db, selector, { signal: r.signal }), { signal: r.signal });
      } catch (err) {
        throw actionHttpError(err);
      }
    }],
  ];

  const pages: Array<[RegExp, Page]> = [
    [/^\/$/, async (r) => {
      const { tags } = await ctx.schema(r.signal);
      const page = await loadFleetPage(ctx, r.url.searchParams, r.signal);
      const body = fleetPage(page, tags.map((t) => t.name), performance.now() - r.started, r.url.searchParams, opts.browser ? { viewer: viewerOf(r.session) } : undefined);
      return { title: 'Fleet', nav: 'fleet', body, live: true };
    }],
    [/^\/machines\/[^/]+$/, async (r) => {
      const m = await loadMachine(ctx, machineId(r, '/machines/'), r.signal);
      const actions = opts.browser
        ? { viewer: viewerOf(r.session), audit: (await loadOperatorAudit(ctx, new URLSearchParams({ machine: m.machineId, limit: '20' }), r.signal)).rows }
        : undefined;
      return { title: `Machine ${m.machineId.slice(0, 8)}`, nav: 'machine', body: machinePage(m, actions), live: true };
    }],
    [/^\/login$/, (r) => {
      if (!opts.browser) throw new NotFoundError('webug runs without --allow-actions: there is nothing to log in to');
      return Promise.resolve({ title: 'Log in', nav: 'login', body: loginPage(localPath(r.url.searchParams.get('next'))) });
    }],
    [/^\/sessions$/, async (r) => ({ title: 'Sessions', nav: 'sessions', body: sessionsPage(await listSessions(ctx, r.signal)), live: true })],
    [/^\/sessions\/[^/]+$/, async (r) => {
      const d = await loadSession(ctx, machineId(r, '/sessions/'), r.signal);
      return { title: `Session ${d.session.sessionId.slice(0, 8)}`, nav: 'session', body: sessionPage(d), live: true };
    }],
    [/^\/audit$/, async (r) => {
      const { f, labels } = await auditRequest(r);
      const actions = await loadOperatorAudit(ctx, new URLSearchParams(f.machine ? { machine: f.machine } : {}), r.signal);
      return { title: 'Audit', nav: 'audit', body: auditPage(f, await loadAuditPage(ctx, f, r.signal), actions.rows, labels) };
    }],
  ];

  async function renderPage(r: Request, res: ServerResponse, page: Page, status = 200): Promise<void> {
    const p = await page(r);
    const schema = await ctx.schema(r.signal).catch(() => undefined);
    const doc = layout(
      {
        title: p.title,
        nav: p.nav,
        database: ctx.database,
        schemaVersion: schema?.schemaVersion ?? null,
        latestKnownVersion: schema?.latestKnownVersion ?? null,
        nonce: r.nonce,
        liveMs: p.live ? opts.liveMs : undefined,
        renderedAt: new Date(),
        session: opts.browser ? sessionLine(viewerOf(r.session)) : undefined,
      },
      p.body,
    );
    send(res, status, 'text/html; charset=utf-8', doc);
  }

  async function exportAudit(r: Request, res: ServerResponse, format: 'csv' | 'json'): Promise<void> {
    const { f } = await auditRequest(r);
    const cap = intParam(r.url.searchParams, 'max', DEFAULT_EXPORT_ROWS, 1, MAX_EXPORT_ROWS);
    // The headers go out with the first page, so a failure before it (the
    // database down) is still a proper error response, not a cut-off 200.
    let bytes = 0;
    let first = true;
    const write = async (text: string) => {
      let chunk = text;
      if (!res.headersSent) {
        res.writeHead(200, {
          'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          'Content-Disposition': `attachment; filename="bmdb-audit.${format}"`,
          'X-Webug-Row-Cap': String(cap),
        });
        chunk = (format === 'csv' ? AUDIT_CSV_HEADER : '{"rows":[\n') + chunk;
      }
      bytes += Buffer.byteLength(chunk);
      if (bytes > MAX_EXPORT_BYTES) throw new Error('export exceeded its byte cap');
      if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve));
    };
    const result = await streamAudit(
      ctx,
      f,
      cap,
      async (rows) => {
        if (format === 'csv') return write(auditCsv(rows));
        const text = rows.map((row) => JSON.stringify(row)).join(',\n');
        await write(first ? text : `,\n${text}`);
        first = false;
      },
      r.signal,
    );
    await write(format === 'json' ? `\n],"count":${result.rows},"truncated":${result.truncated}}\n` : '');
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, r: Request): Promise<void> {
    if (opts.actions && req.method === 'POST' && ACTION_PATH.test(r.url.pathname)) {
      // Actions carry their own bearer token (the tokens file), whatever the read token is.
      if ((await ctx.schema(r.signal)).schemaVersion === 0) throw new SchemaMissingError(`${ctx.database} has no BMDB schema yet: run \`bmaas migrate up\``);
      const outcome = await handleAction(opts.actions, req, r.url.pathname, r.signal);
      logger.info({ requestId: r.id, machineId: outcome.machineId, action: outcome.action, dryRun: outcome.dryRun, auditId: outcome.auditId }, 'action applied');
      return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(outcome)}\n`);
    }
    if (opts.browser && req.method === 'POST' && BROWSER_POST_PATHS.test(r.url.pathname)) return browserPost(req, res, r, opts.browser);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', opts.actions ? 'only GET and HEAD here; actions are POST /api/machines/<id>/actions/<action>\n' : 'webug is read-only: only GET and HEAD\n');
    }
    const auth = readAuth(req, r.url);
    if (auth.kind === 'denied') {
      res.setHeader('WWW-Authenticate', 'Basic realm="webug", charset="UTF-8"');
      return send(res, 401, 'text/plain; charset=utf-8', 'authentication required: a bearer token, basic auth with the token as password, or ?token=\n');
    }
    if (auth.kind === 'set-cookie') {
      res.writeHead(303, { Location: auth.location, 'Set-Cookie': auth.cookie });
      res.end();
      return;
    }
    r.session = opts.browser?.sessions.find(req);
    const path = r.url.pathname;
    if (path !== '/api/status' && (await ctx.schema(r.signal)).schemaVersion === 0) {
      throw new SchemaMissingError(`${ctx.database} has no BMDB schema yet: run \`bmaas migrate up\` (webug never migrates)`);
    }
    if (path === '/audit/export.csv') return exportAudit(r, res, 'csv');
    if (path === '/audit/export.json') return exportAudit(r, res, 'json');
    for (const [re, fn] of json) if (re.test(path)) return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(await fn(r))}\n`);
    for (const [re, fn] of pages) if (re.test(path)) return renderPage(r, res, fn);
    throw new NotFoundError(`no page at ${path}`);
  }

  /** The read token, or (with --allow-actions) any token of the tokens file: a viewer token may read. */
  function readAuth(req: IncomingMessage, url: URL): ReturnType<typeof authenticate> {
    const auth = authenticate(req, url, opts.token);
    if (auth.kind !== 'denied' || !opts.actions) return auth;
    const secret = bearerSecret(req.headers.authorization);
    return secret !== undefined && findApiToken(opts.actions.tokens, secret) ? { kind: 'ok' } : auth;
  }

  /** A form POST of the browser: the read token (if any) first, then the session, CSRF and role (browser-actions.ts). */
  async function browserPost(req: IncomingMessage, res: ServerResponse, r: Request, browser: BrowserActions): Promise<void> {
    if (authenticate(req, r.url, opts.token).kind !== 'ok') {
      return send(res, 401, 'text/plain; charset=utf-8', 'authentication required: open webug with its read token first\n');
    }
    if ((await ctx.schema(r.signal)).schemaVersion === 0) throw new SchemaMissingError(`${ctx.database} has no BMDB schema yet: run \`bmaas migrate up\``);
    const out = await handleBrowserPost(browser, ctx, req, r.url.pathname, r.signal);
    if (out.kind === 'redirect') {
      res.writeHead(303, { Location: out.location, ...(out.cookie ? { 'Set-Cookie': out.cookie } : {}) });
      res.end();
      return;
    }
    r.session = browser.sessions.find(req);
    logger.info({ requestId: r.id, path: r.url.pathname, status: out.status }, 'form handled');
    return renderPage(r, res, () => Promise.resolve({ title: out.title, nav: 'bulk', body: out.body }), out.status);
  }

  function fail(res: ServerResponse, r: Request, err: unknown): void {
    const status =
      err instanceof BadRequestError ? 400
      : err instanceof UnauthenticatedError ? 401
      : err instanceof ForbiddenError ? 403
      : err instanceof NotFoundError ? 404
      : err instanceof ConflictError ? 409
      : err instanceof SchemaMissingError ? 503
      : 500;
    // A failure the outage reporter accounts for (the database unreachable) is
    // a 503 with Retry-After: the request is fine, try it again shortly.
    const outage = status === 500 && opts.outage?.covers(err) === true;
    const shown = outage ? 503 : status;
    if (status === 401 && !res.headersSent) res.setHeader('WWW-Authenticate', 'Bearer realm="webug actions"');
    const log = { requestId: r.id, path: r.url.pathname, status: shown };
    // The details of a 500 (often the database's own words) go to the log only;
    // one the database being unreachable explains is logged once, by the outage reporter.
    if (outage) logger.debug({ ...log, err }, 'request failed: the database is unreachable');
    else if (status === 500) logger.error({ ...log, err }, 'request failed');
    else logger.info({ ...log, reason: (err as Error).message }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (outage) res.setHeader('Retry-After', String(OUTAGE_RETRY_AFTER_S));
    const message = outage ? `the database is unreachable; retry in a few seconds (request id ${r.id})` : status === 500 ? `internal error (request id ${r.id})` : (err as Error).message;
    if (r.url.pathname.startsWith('/api/')) return send(res, shown, 'application/json; charset=utf-8', `${JSON.stringify({ error: message, kind: outage ? 'database-unreachable' : errorKind(err, status) })}\n`);
    const titles: Record<number, string> = { 400: 'Bad request', 401: 'Log in first', 403: 'Forbidden', 404: 'Not found', 409: 'Refused', 503: 'No schema' };
    const title = outage ? 'Database unreachable' : (titles[status] ?? 'Error');
    const body = html`<h1>${title}</h1><p class="error" id="error-message">${message}</p><p>${status === 401 && opts.browser ? html`<a href="/login">log in</a> · ` : ''}<a href="/">back to the fleet</a></p>`;
    send(res, shown, 'text/html; charset=utf-8', layout({ title: 'Error', nav: 'error', database: ctx.database, schemaVersion: null, latestKnownVersion: null, nonce: r.nonce, renderedAt: new Date() }, body));
  }

  return (req, res) => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client went away'));
    });
    const nonce = randomBytes(16).toString('base64');
    const id = randomBytes(6).toString('hex');
    securityHeaders(res, nonce);
    res.setHeader('X-Request-Id', id);
    let url: URL;
    try {
      // Appended, not resolved: a target like `//other.host/x` is a path here, not an authority.
      const target = req.url ?? '/';
      url = target.startsWith('/') ? new URL(`http://webug.invalid${target}`) : new URL(target, 'http://webug.invalid');
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'bad URL\n');
    }
    const r: Request = { id, url, signal: abort.signal, nonce, started: performance.now() };
    handle(req, res, r).then(
      () => logger.debug({ requestId: id, path: url.pathname, status: res.statusCode, ms: Math.round(performance.now() - r.started) }, 'served'),
      (err: unknown) => {
        if (abort.signal.aborted) return;
        fail(res, r, err);
      },
    );
  };
}
