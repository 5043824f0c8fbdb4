// Bearer tokens of the action API (`--tokens-file`), hashed at rest. One token
// a line: `<role> <name> <sha256 hex of the token>`, where role is `viewer`
// (may read, may not act) or `operator` (may act); `#` starts a comment.
// Make a line with: printf %s "$TOKEN" | sha256sum
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebugConfigError } from './errors.ts';

export const API_ROLES = ['viewer', 'operator'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiToken {
  readonly role: ApiRole;
  /** Who the token belongs to: the audit trail's actor is `token:<name>`. */
  readonly name: string;
  readonly sha256: Buffer;
}

/** Parses a tokens file's text; throws WebugConfigError naming the bad line. */
export function parseApiTokens(text: string, origin = 'tokens file'): ApiToken[] {
  const tokens: ApiToken[] = [];
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `${origin} line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new WebugConfigError(`${where}: expected "<role> <name> <sha256 hex>"`);
    const [role, name, hex] = parts as [string, string, string];
    if (!(API_ROLES as readonly string[]).includes(role)) throw new WebugConfigError(`${where}: role must be ${API_ROLES.join(' or ')}, got ${JSON.stringify(role)}`);
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new WebugConfigError(`${where}: the name must be 1 to 64 of A-Z a-z 0-9 . _ @ -`);
    if (names.has(name)) throw new WebugConfigError(`${where}: the name ${name} is used twice`);
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new WebugConfigError(`${where}: the hash must be 64 hex digits (the SHA-256 of the token, not the token)`);
    names.add(name);
    tokens.push({ role: role as ApiRole, name, sha256: Buffer.from(hex, 'hex') });
  });
  return tokens;
}

export function loadApiTokensFile(path: string): ApiToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WebugConfigError(`cannot read the tokens file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseApiTokens(text, path);
}

/** The token a bearer secret belongs to, or undefined. Compares every hash in constant time. */
export function findApiToken(tokens: readonly ApiToken[], secret: string): ApiToken | undefined {
  const hash = createHash('sha256').update(secret).digest();
  let found: ApiToken | undefined;
  for (const t of tokens) if (timingSafeEqual(hash, t.sha256) && !found) found = t;
  return found;
}

/** The bearer secret of a request's Authorization header, if any. */
export function bearerSecret(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}
