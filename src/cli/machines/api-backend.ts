// `bmaas machines --api URL`: the same reads and actions through webug's JSON
// API (webug --allow-actions). The bearer token comes from BMAAS_API_TOKEN or
// --api-token-file; through the API the audit trail's actor is the token's
// name. Error bodies carry a `kind` that maps back to the action layer's errors.
import { ActionArgumentError, UnknownMachineError, type ActionOutcome } from '../../actions/index.ts';
import type { AuditEntry, MachineRef } from '../../bmdb/index.ts';
import { BadRequestError, NotFoundError, type FleetPage, type FleetRow, type MachineDetail } from '../../webug/index.ts';
import { refusal, type ActRequest, type ActResult, type MachinesBackend } from './backend.ts';

/** webug answered with an error the command does not turn into a result. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly kind: string;
  constructor(status: number, kind: string, message: string) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

/** Fields that hold times in webug's JSON: turned back into Dates, as the direct path has them. */
const DATE_KEYS = new Set(['createdAt', 'heartbeatAt', 'agentStartedAt', 'since', 'until', 'deadline', 'timestamp', 'at']);

function reviveDates(key: string, value: unknown): unknown {
  return DATE_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value;
}

export interface ApiBackendOptions {
  /** webug's base URL, e.g. http://127.0.0.1:8081/ */
  readonly url: string;
  readonly token?: string | undefined;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
}

export class ApiBackend implements MachinesBackend {
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly description: string;

  constructor(opts: ApiBackendOptions) {
    this.#base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new TypeError(`--api must be an http(s) URL, got ${opts.url}`);
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.description = `webug at ${this.#base.origin}`;
  }

  async #request<T>(path: string, signal: AbortSignal, body?: unknown): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.#base);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
      });
    } catch (err) {
      signal.throwIfAborted();
      throw new ApiError(0, 'unreachable', `cannot reach ${this.description}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text, reviveDates);
    } catch {
      throw new ApiError(res.status, 'not-json', `${this.description} answered ${res.status} without JSON: is --api webug's URL?`);
    }
    if (!res.ok) {
      const e = parsed as { error?: unknown; kind?: unknown };
      throw new ApiError(res.status, typeof e.kind === 'string' ? e.kind : 'unknown', typeof e.error === 'string' ? e.error : `HTTP ${res.status}`);
    }
    return parsed as T;
  }

  async select(filter: URLSearchParams, limit: number, signal: AbortSignal): Promise<FleetRow[]> {
    const params = new URLSearchParams(filter);
    const rows: FleetRow[] = [];
    for (;;) {
      params.set('limit', String(Math.min(500, limit - rows.length)));
      let page: FleetPage;
      try {
        page = await this.#request<FleetPage>(`/api/machines?${params.toString()}`, signal);
      } catch (err) {
        if (err instanceof ApiError && err.kind === 'bad-request') throw new BadRequestError(err.message);
        throw err;
      }
      rows.push(...page.rows);
      if (!page.next || rows.length >= limit) return rows;
      params.set('after', page.next);
    }
  }

  async resolve(selector: string, signal: AbortSignal): Promise<MachineRef> {
    try {
      return await this.#request<MachineRef>(`/api/resolve?${new URLSearchParams({ selector }).toString()}`, signal);
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'unknown-machine') throw new UnknownMachineError(selector);
      throw err;
    }
  }

  async machine(machineId: string, signal: AbortSignal): Promise<MachineDetail> {
    try {
      return await this.#request<MachineDetail>(`/api/machines/${encodeURIComponent(machineId)}`, signal);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) throw new NotFoundError(err.message);
      throw err;
    }
  }

  async audit(machineId: string, signal: AbortSignal): Promise<AuditEntry[]> {
    return (await this.#request<{ rows: AuditEntry[] }>(`/api/audit/actions?${new URLSearchParams({ machine: machineId, limit: '500' }).toString()}`, signal)).rows;
  }

  async act(req: ActRequest, signal: AbortSignal): Promise<ActResult> {
    const path = `/api/machines/${encodeURIComponent(req.machineId)}/actions/${encodeURIComponent(req.action)}`;
    try {
      const outcome = await this.#request<ActionOutcome>(path, signal, { reason: req.reason, arguments: req.arguments, dryRun: req.dryRun });
      return { ok: true, outcome };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.kind === 'refused') return { ok: false, why: refusal(err.message) };
      if (err.kind === 'unknown-machine') return { ok: false, why: err.message };
      if (err.kind === 'bad-argument') throw new ActionArgumentError(err.message);
      throw err;
    }
  }
}
