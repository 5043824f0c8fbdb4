// The static device list of the `mini` provider: a JSON array of
// { "ID", "Addr", "Location" } read from a file or an HTTP(S) URL, validated
// strictly so a typo stops the shepherd instead of enrolling a wrong machine.
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseSshAddress } from '../../ssh/index.ts';

export interface Device {
  /** Unique, stable provider id (at most 128 characters). */
  readonly ID: string;
  /** Where SSH reaches it: host[:port], IPv6 in brackets when a port is given. */
  readonly Addr: string;
  readonly Location?: string;
}

/** The list could not be read or is invalid; the message names the entry. */
export class DeviceListError extends Error {
  override name = 'DeviceListError';
}

const deviceSchema = z.strictObject({
  ID: z.string().min(1, 'ID must not be empty').max(128, 'ID must be at most 128 characters'),
  Addr: z.string().min(1, 'Addr must not be empty'),
  Location: z.string().optional(),
});

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Why `addr` is not a usable host[:port], or undefined when it is. */
export function addressProblem(addr: string): string | undefined {
  if (addr.trim() !== addr) return 'has surrounding whitespace';
  let host: string;
  try {
    host = parseSshAddress(addr).host;
  } catch (err) {
    return (err as Error).message;
  }
  if (isIPv4(host) || isIPv6(host)) return undefined;
  if (/^[\d.]+$/.test(host)) return `${JSON.stringify(host)} is not a valid IPv4 address`;
  if (host.includes(':')) return `${JSON.stringify(host)} is not a valid IPv6 address`;
  if (!HOSTNAME.test(host)) return `${JSON.stringify(host)} is not a valid host name`;
  return undefined;
}

/**
 * Parses and validates a device list. `source` names it in errors.
 * @throws DeviceListError naming the entry index (from 0) and ID.
 */
export function parseDeviceList(text: string, source: string): Device[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DeviceListError(`device list ${source} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(data)) throw new DeviceListError(`device list ${source} must be a JSON array of {"ID", "Addr", "Location"} objects`);
  if (data.length === 0) throw new DeviceListError(`device list ${source} is empty`);
  const devices: Device[] = [];
  const seen = new Map<string, number>();
  data.forEach((raw: unknown, index) => {
    const id = typeof raw === 'object' && raw !== null && typeof (raw as { ID?: unknown }).ID === 'string' ? (raw as { ID: string }).ID : undefined;
    const where = `device list ${source}: entry ${index}${id === undefined ? '' : ` (ID ${JSON.stringify(id)})`}`;
    const parsed = deviceSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : (issue?.message ?? 'invalid');
      throw new DeviceListError(`${where}: ${path}${message}`);
    }
    const device = parsed.data;
    const problem = addressProblem(device.Addr);
    if (problem !== undefined) throw new DeviceListError(`${where}: Addr ${JSON.stringify(device.Addr)} is not host[:port]: ${problem}`);
    const first = seen.get(device.ID);
    if (first !== undefined) throw new DeviceListError(`${where}: duplicate ID, also used by entry ${first}`);
    seen.set(device.ID, index);
    devices.push(Object.freeze({ ...device }));
  });
  return devices;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

/**
 * Reads the list from a `file://` or `http(s)://` URL (a plain path is taken
 * as a file) and validates it.
 * @throws DeviceListError when it cannot be read or is invalid.
 */
export async function loadDeviceList(url: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Device[]> {
  const { signal } = options;
  let text: string;
  if (/^https?:\/\//i.test(url)) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new DeviceListError(`could not fetch device list ${url}: ${why}`, { cause: err });
    }
  } else {
    let path: string;
    if (/^file:/i.test(url)) {
      try {
        path = fileURLToPath(url);
      } catch (err) {
        throw new DeviceListError(`invalid device list URL ${url}: ${(err as Error).message}`, { cause: err });
      }
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      throw new DeviceListError(`device list URL ${url} must be file://, http:// or https://`);
    } else {
      path = url;
    }
    try {
      text = await readFile(path, { encoding: 'utf8', signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new DeviceListError(`could not read device list ${url}: ${(err as Error).message}`, { cause: err });
    }
  }
  return parseDeviceList(text, url);
}
