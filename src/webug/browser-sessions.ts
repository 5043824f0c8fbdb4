// Browser sessions of webug's actions (`--allow-actions`): an operator posts a
// token of the tokens file on the login page and gets a random session id in
// an HttpOnly, SameSite=Strict cookie (Secure under TLS). Each session has its
// own CSRF token, which every form POST must carry. Sessions live in memory:
// a restart logs everybody out, which is the safe direction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ApiToken } from './api-tokens.ts';
import { readCookie } from './auth.ts';

export const SESSION_COOKIE = 'webug_session';

export interface BrowserSession {
  readonly id: string;
  /** The token it was opened with: its role decides, its name is the audit actor. */
  readonly token: ApiToken;
  readonly csrf: string;
  expiresAt: number;
}

export interface BrowserSessionOptions {
  /** Idle time after which a session ends. Default 8 h. */
  readonly idleMs?: number;
  /** At most this many sessions; the one idle longest goes first. Default 1000. */
  readonly maxSessions?: number;
  readonly now?: () => number;
}

const key = (id: string) => createHash('sha256').update(id).digest('hex');

export class BrowserSessions {
  // Keyed by the hash of the id: the map never holds a usable cookie value.
  readonly #sessions = new Map<string, BrowserSession>();
  readonly #idleMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #secure: boolean;

  constructor(secure: boolean, opts: BrowserSessionOptions = {}) {
    this.#secure = secure;
    this.#idleMs = opts.idleMs ?? 8 * 3600_000;
    this.#max = opts.maxSessions ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** Opens a session; returns it with the Set-Cookie header value. */
  open(token: ApiToken): { session: BrowserSession; cookie: string } {
    while (this.#sessions.size >= this.#max) this.#sessions.delete(this.#sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session: BrowserSession = { id, token, csrf: randomBytes(32).toString('base64url'), expiresAt: this.#now() + this.#idleMs };
    this.#sessions.set(key(id), session);
    return { session, cookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${this.#secure ? '; Secure' : ''}` };
  }

  /** The live session of a request's cookie, its idle time renewed; undefined when none. */
  find(req: IncomingMessage): BrowserSession | undefined {
    const id = readCookie(req, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const k = key(id);
    const s = this.#sessions.get(k);
    if (!s) return undefined;
    if (s.expiresAt <= this.#now()) {
      this.#sessions.delete(k);
      return undefined;
    }
    s.expiresAt = this.#now() + this.#idleMs;
    // Re-inserted: the map's order is then least recently used first.
    this.#sessions.delete(k);
    this.#sessions.set(k, s);
    return s;
  }

  close(session: BrowserSession): string {
    this.#sessions.delete(key(session.id));
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${this.#secure ? '; Secure' : ''}`;
  }
}

/** Whether a form's CSRF field is this session's token (constant time). */
export function csrfMatches(session: BrowserSession, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(session.csrf).digest();
  return timingSafeEqual(a, b);
}
