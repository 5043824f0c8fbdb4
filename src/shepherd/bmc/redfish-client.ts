// HTTP to one Redfish service: authentication (Basic, or a SessionService
// session when the BMC demands one or the options say so), retries with
// jittered backoff on 5xx, 429 and connection errors (none on other 4xx), and
// one request in flight at a time.
//
// Sessions: created lazily, reused until close(), deleted by close() and when a
// login raced an abort. Login and logout run on their own timeout, not on the
// caller's signal, so an abort can never leave a session the BMC created but we
// never learned about.
import type { Agent } from 'node:https';
import type { Logger } from 'pino';
import { sleep } from '../../lib/index.ts';
import { BmcAuthError, BmcConnectionError, BmcHttpError, BmcProtocolError } from './errors.ts';
import { exchange, HttpTransportError, type HttpAnswer } from './http-exchange.ts';
import { backoffDelay, parseRetryAfter } from './retry-backoff.ts';
import { SerialQueue } from './serial-queue.ts';
import type { PasswordSource } from './types.ts';

export interface RedfishClientSettings {
  readonly base: URL;
  readonly username: string;
  readonly password: PasswordSource;
  readonly agent: Agent;
  readonly requestMs: number;
  readonly attempts: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly sessions: boolean;
  readonly log: Logger;
}

interface Session {
  readonly token: string;
  readonly location: URL;
}

const DEFAULT_SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';

export class RedfishClient {
  readonly #s: RedfishClientSettings;
  readonly #queue = new SerialQueue();
  #useSessions: boolean;
  #session: Session | undefined;
  #login: Promise<Session> | undefined;
  #sessionsPath = DEFAULT_SESSIONS_PATH;

  constructor(settings: RedfishClientSettings) {
    this.#s = settings;
    this.#useSessions = settings.sessions;
  }

  /** Where SessionService keeps its sessions (from the service root's Links.Sessions). */
  set sessionsPath(path: string) {
    this.#sessionsPath = path;
  }

  /** Whether requests currently go out under a session rather than Basic auth. */
  get usingSession(): boolean {
    return this.#useSessions;
  }

  /** GET/POST with auth and retries; resolves with a 2xx answer, else throws a BmcError. */
  async call(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined, opts: { anonymous?: boolean } = {}): Promise<HttpAnswer> {
    let reauthenticated = false;
    let anonymous = opts.anonymous === true;
    for (let attempt = 0; ; attempt++) {
      const auth = anonymous ? {} : await this.#authHeaders(signal);
      let answer: HttpAnswer;
      try {
        answer = await this.#send(method, path, auth, body, signal);
      } catch (err) {
        if (!(err instanceof HttpTransportError)) throw err;
        const e = err;
        // A POST that may have reached the BMC is not repeated: a reset must not happen twice.
        const retryable = !e.aborted && (method === 'GET' || !e.maybeSent);
        if (!retryable || attempt + 1 >= this.#s.attempts) throw new BmcConnectionError(`BMC ${this.#s.base.origin}: ${e.message}`, { cause: err });
        await this.#pause(attempt, undefined, signal);
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      if (answer.status === 401 && anonymous) {
        // The service root should be readable without credentials; some BMCs want them anyway.
        anonymous = false;
        attempt--;
        continue;
      }
      if (answer.status === 401) {
        if (!reauthenticated) {
          reauthenticated = true;
          // Basic refused: this BMC may want sessions. A refused session token: log in again.
          this.#useSessions = true;
          this.#session = undefined;
          attempt--;
          continue;
        }
        throw new BmcAuthError(`BMC ${this.#s.base.origin} refused the credentials of user ${this.#s.username} (401 on ${method} ${path})`);
      }
      const retryable = answer.status >= 500 || answer.status === 429;
      if (!retryable || attempt + 1 >= this.#s.attempts) throw httpError(this.#s.base, method, path, answer);
      await this.#pause(attempt, parseRetryAfter(header(answer, 'retry-after')), signal);
    }
  }

  /** Deletes the session, if any. Never throws: a failed logout is logged (the BMC expires it eventually). */
  async close(): Promise<void> {
    const pending = this.#login;
    this.#login = undefined;
    const session = this.#session ?? (await pending?.catch(() => undefined));
    this.#session = undefined;
    if (session) await this.#logout(session);
  }

  async #pause(retry: number, retryAfterMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    await sleep(backoffDelay(retry, this.#s.backoff, retryAfterMs), signal);
    signal?.throwIfAborted();
  }

  #send(method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string>, body: unknown, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    const url = new URL(path, this.#s.base);
    return this.#queue.run(() => exchange({ method, url, headers: { 'odata-version': '4.0', ...headers }, body, agent: this.#s.agent, timeoutMs: this.#s.requestMs, signal }));
  }

  async #authHeaders(signal: AbortSignal | undefined): Promise<Record<string, string>> {
    if (!this.#useSessions) {
      const basic = Buffer.from(`${this.#s.username}:${this.#s.password.reveal()}`).toString('base64');
      return { authorization: `Basic ${basic}` };
    }
    if (!this.#session) {
      this.#login ??= this.#createSession();
      const login = this.#login;
      try {
        this.#session = await login;
      } finally {
        if (this.#login === login) this.#login = undefined;
      }
      if (signal?.aborted) {
        // The caller gave up while we logged in: do not keep a session nobody will close.
        await this.close();
        signal.throwIfAborted();
      }
    }
    return { 'x-auth-token': this.#session!.token };
  }

  async #createSession(): Promise<Session> {
    const body = { UserName: this.#s.username, Password: this.#s.password.reveal() };
    let answer: HttpAnswer;
    try {
      answer = await this.#send('POST', this.#sessionsPath, {}, body, undefined);
    } catch (err) {
      throw new BmcConnectionError(`BMC ${this.#s.base.origin}: session login: ${(err as Error).message}`, { cause: err });
    }
    if (answer.status === 401 || answer.status === 403) throw new BmcAuthError(`BMC ${this.#s.base.origin} refused a session for user ${this.#s.username} (${answer.status})`);
    if (answer.status === 404 || answer.status === 405) throw new BmcAuthError(`BMC ${this.#s.base.origin} refused the credentials of user ${this.#s.username} and offers no SessionService to log in through (${answer.status})`);
    if (answer.status < 200 || answer.status >= 300) throw httpError(this.#s.base, 'POST', this.#sessionsPath, answer);
    const token = header(answer, 'x-auth-token');
    const location = header(answer, 'location') ?? odataId(answer.json);
    if (!token || !location) throw new BmcProtocolError(`BMC ${this.#s.base.origin} created a session without X-Auth-Token or Location`);
    const session = { token, location: new URL(location, this.#s.base) };
    this.#s.log.debug({ endpoint: this.#s.base.origin, session: session.location.pathname }, 'created a BMC session');
    return session;
  }

  async #logout(session: Session): Promise<void> {
    try {
      const answer = await this.#send('DELETE', session.location.pathname, { 'x-auth-token': session.token }, undefined, undefined);
      if (answer.status >= 300 && answer.status !== 404) throw new Error(`status ${answer.status}`);
      this.#s.log.debug({ endpoint: this.#s.base.origin, session: session.location.pathname }, 'deleted the BMC session');
    } catch (err) {
      this.#s.log.warn({ endpoint: this.#s.base.origin, session: session.location.pathname, err: (err as Error).message }, 'could not delete the BMC session; it stays until the BMC expires it');
    }
  }
}

function header(answer: HttpAnswer, name: string): string | undefined {
  const v = answer.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function odataId(json: unknown): string | undefined {
  const id = (json as { '@odata.id'?: unknown } | undefined)?.['@odata.id'];
  return typeof id === 'string' ? id : undefined;
}

/** A BmcHttpError carrying the Redfish extended message, when the BMC sent one. */
function httpError(base: URL, method: string, path: string, answer: HttpAnswer): BmcHttpError {
  const error = (answer.json as { error?: { message?: unknown; '@Message.ExtendedInfo'?: Array<{ Message?: unknown }> } } | undefined)?.error;
  const detail = error?.['@Message.ExtendedInfo']?.[0]?.Message ?? error?.message;
  const suffix = typeof detail === 'string' ? `: ${detail}` : '';
  return new BmcHttpError(`BMC ${base.origin} answered ${answer.status} to ${method} ${path}${suffix}`, answer.status);
}
