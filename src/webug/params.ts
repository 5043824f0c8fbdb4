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

export function durationParam(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  try {
    return parseDuration(v);
  } catch (err) {
    throw new BadRequestError(`${name}: ${(err as Error).message}`, { cause: err });
  }
}

export function timeParam(params: URLSearchParams, name: string): Date | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new BadRequestError(`${name} must be a date/time such as 2025-01-31T12:00:00Z`);
  return d;
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

export function decodeCursor(params: URLSearchParams, name: string, length: number): (string | null)[] | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  try {
    const parts = JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === length && parts.every((p) => p === null || (typeof p === 'string' && p.length < 200))) return parts as (string | null)[];
  } catch {
    // fall through to the error below
  }
  throw new BadRequestError(`${name} is not a cursor this server issued`);
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
