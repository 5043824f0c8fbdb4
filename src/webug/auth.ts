// Access control. On loopback with no token, everything is open (the default:
// an operator on the machine itself). With a token, a request must carry it
// as `Authorization: Bearer <token>`, as the password of HTTP basic auth (any
// user name), or in the `webug_token` cookie, which `?token=<token>` sets once.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebugConfigError } from './errors.ts';

export const TOKEN_COOKIE = 'webug_token';

export type AuthResult = { kind: 'ok' } | { kind: 'set-cookie'; location: string; cookie: string } | { kind: 'denied' };

const digest = (s: string) => createHash('sha256').update(s).digest();

function same(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function authenticate(req: IncomingMessage, url: URL, token: string | undefined): AuthResult {
  if (token === undefined) return { kind: 'ok' };
  const auth = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(auth);
  if (bearer && same(bearer[1]!.trim(), token)) return { kind: 'ok' };
  const basic = /^Basic\s+(.+)$/i.exec(auth);
  if (basic) {
    const decoded = Buffer.from(basic[1]!.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0 && same(decoded.slice(colon + 1), token)) return { kind: 'ok' };
  }
  const fromCookie = cookie(req, TOKEN_COOKIE);
  if (fromCookie !== undefined && same(fromCookie, token)) return { kind: 'ok' };
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && same(fromQuery, token)) {
    const clean = new URL(url);
    clean.searchParams.delete('token');
    return {
      kind: 'set-cookie',
      location: `${clean.pathname}${clean.search}`,
      cookie: `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
    };
  }
  return { kind: 'denied' };
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly loopback: boolean;
}

/** `127.0.0.1:8081`, `[::1]:8081`, `localhost:8081`, `0.0.0.0:8081` or `:8081` (every interface). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new WebugConfigError(`invalid listen address ${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:8081`);
  const port = Number(m[3]);
  if (port > 65535) throw new WebugConfigError(`invalid port in listen address ${JSON.stringify(text)}`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return { host, port, loopback };
}
