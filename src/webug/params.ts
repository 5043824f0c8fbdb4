// Small parsers shared by the pages' query-string readers. Each throws
// BadRequestError naming the parameter, so a bad URL is a 400, not a 500.
import { parseDuration } from '../lib/index.ts';
import { BadRequestError } from './errors.ts';

export function oneOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new BadRequestError(`${name} must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function intParam(params: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const v = params.get(name);
  if (v === null || v === '') return def;
  if (!/^\d+$/.test(v)) throw new BadRequestError(`${name} must be a whole number`);
  return Math.min(max, Math.max(min, Number(v)));
}

/** Free text such as a search: at most `maxLength` characters, no control characters (NUL cannot even be stored). */
export function textParam(params: URLSearchParams, name: string, maxLength: number): string | undefined {
  const v = (params.get(name) ?? '').trim();
  if (v.length > maxLength) throw new BadRequestError(`${name} is longer than ${maxLength} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new BadRequestError(`${name} must not contain control characters`);
  return v || undefined;
}

/** The longest duration a filter takes: 100 years, far inside what a database interval holds. */
export const MAX_FILTER_DURATION_MS = 100 * 365.25 * 24 * 3_600_000;

export function durationParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  try {
    return parseDuration(v, { minMs: 0, maxMs: MAX_FILTER_DURATION_MS });
  } catch (err) {
    throw new BadRequestError(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

// Years every database we run on stores (PostgreSQL takes 4713 BC..294276 AD, JavaScript ±275760).
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

export function timeParam(params: URLSearchParams, name: string): Date | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new BadRequestError(`${name} must be a date/time such as 2025-01-31T12:00:00Z`);
  const year = d.getUTCFullYear();
  if (year < MIN_YEAR || year > MAX_YEAR) throw new BadRequestError(`${name} must lie between the years ${MIN_YEAR} and ${MAX_YEAR}`);
  return d;
}

// A timestamptz as the database prints it (`2025-01-31 12:00:00.123456+00`, `…+05:30`).
const DB_TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?[+-](\d\d)(?::([0-5]\d)){0,2}$/;

/** True for a timestamp in the text form the database prints, with every field in range. */
export function isDbTimestamp(s: string): boolean {
  const m = DB_TIMESTAMP.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetHours] = m.slice(1, 8).map(Number) as [number, number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return year >= MIN_YEAR && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 15;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

export function uuidParam(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  if (!isUuid(v)) throw new BadRequestError(`${name} must be a UUID`);
  return v.toLowerCase();
}

/** Keyset cursors are opaque to clients: base64url of a JSON array of strings. */
export function encodeCursor(parts: readonly (string | null)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** What one cursor part must be: a check on a string; `nullable` lets null through too. */
export interface CursorPart {
  readonly check: (s: string) => boolean;
  readonly nullable?: boolean;
}

export const cursorParts = {
  uuid: { check: isUuid },
  timestamp: { check: isDbTimestamp },
  optionalTimestamp: { check: isDbTimestamp, nullable: true },
  oneOf: (allowed: readonly string[]): CursorPart => ({ check: (s) => allowed.includes(s) }),
} satisfies Record<string, CursorPart | ((...a: never[]) => CursorPart)>;

/** Decodes a cursor and checks every part, so a forged one is a 400 and never reaches a query. */
export function decodeCursor(params: URLSearchParams, name: string, parts: readonly CursorPart[]): (string | null)[] | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(v, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const valid =
    Array.isArray(decoded) &&
    decoded.length === parts.length &&
    decoded.every((p: unknown, i) => (p === null ? parts[i]!.nullable === true : typeof p === 'string' && p.length < 200 && parts[i]!.check(p)));
  if (!valid) throw new BadRequestError(`${name} is not a cursor this server issued`);
  return decoded as (string | null)[];
}

/** The id at the end of a path (`/machines/<id>`): percent-decoded and checked to be a UUID. */
export function pathId(pathname: string, prefix: string): string {
  let id: string;
  try {
    id = decodeURIComponent(pathname.slice(prefix.length));
  } catch {
    throw new BadRequestError('the path has malformed percent-encoding');
  }
  if (!isUuid(id)) throw new BadRequestError('the path must end in a machine or session id (a UUID)');
  return id.toLowerCase();
}

/** The UUID range covered by a machine id prefix ("3fa8", "3fa85f64-57"), or undefined if q is no such prefix. */
export function uuidPrefixRange(q: string): { lo: string; hi: string } | undefined {
  const hex = q.toLowerCase().replace(/-/g, '');
  if (hex.length === 0 || hex.length > 32 || !/^[0-9a-f]+$/.test(hex)) return undefined;
  const fmt = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return { lo: fmt(hex.padEnd(32, '0')), hi: fmt(hex.padEnd(32, 'f')) };
}

/** Escapes LIKE wildcards so user text matches literally. */
export function likePrefix(s: string): string {
  return `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
