// Access control. On loopback with no token, everything is open (the default:
// an operator on the machine itself). With a token, a request must carry it
// as `Authorization: Bearer <token>`, as the password of HTTP basic auth (any
// user name), or in the `webug_token` cookie, which `?token=<token>` sets once.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'webug_token';

export type AuthResult = { kind: 'ok' } | { kind: 'set-cookie'; location: string; cookie: string } | { kind: 'denied' };

const digest = (s: string) => createHash('sha256').update(s).digest();

function same(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

/** A cookie's value from the request, percent-decoded; undefined when absent or malformed. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
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
  const fromCookie = readCookie(req, TOKEN_COOKIE);
  if (fromCookie !== undefined && same(fromCookie, token)) return { kind: 'ok' };
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && same(fromQuery, token)) {
    const clean = new URL(url);
    clean.searchParams.delete('token');
    return {
      kind: 'set-cookie',
      // One leading slash: `//host/…` would send the browser to another origin.
      location: `/${clean.pathname.replace(/^[/\\]+/, '')}${clean.search}`,
      cookie: `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
    };
  }
  return { kind: 'denied' };
}
