// The static device list of the `mini` provider: a JSON array of
// { "ID", "Addr", "Location", "BMC" } read from a file or an HTTP(S) URL,
// validated strictly so a typo stops the shepherd instead of enrolling a wrong
// machine, and so nothing reaches the BMDB that PostgreSQL cannot store.
import { z } from 'zod';
import { parseSshAddress } from '../../ssh/index.ts';
import { bmcIdentity, bmcSchema, type BmcSpec } from './bmc-spec.ts';
import { printable, quoteForError, textField } from './device-text.ts';
import { decodeStrictUtf8, InvalidUtf8Error } from './strict-utf8.ts';

export interface Device {
  /** Unique, stable provider id: at most 128 characters, no control characters. */
  readonly ID: string;
  /** Where SSH reaches it: host[:port], IPv6 in brackets when a port is given. */
  readonly Addr: string;
  /** Free text of one line (tabs allowed), at most 1024 characters. */
  readonly Location?: string;
  /** Its BMC, when the shepherd may power it (see bmc-spec.ts). */
  readonly BMC?: BmcSpec;
}

/** The list could not be read or is invalid; the message names the entry. */
export class DeviceListError extends Error {
  override name = 'DeviceListError';
}

const deviceSchema = z.strictObject({
  ID: textField({ max: 128 }),
  Addr: textField({ max: 512 }),
  Location: textField({ max: 1024, tab: true }).optional(),
  BMC: bmcSchema.optional(),
});

/** Why `addr` is not a usable host[:port], or undefined when it is. */
export function addressProblem(addr: string): string | undefined {
  if (addr.trim() !== addr) return 'has surrounding whitespace';
  try {
    parseSshAddress(addr);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

function entryId(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { ID?: unknown }).ID;
  return typeof id === 'string' ? id : undefined;
}

function entryLabel(source: string, index: number, id: string | undefined): string {
  return `device list ${source}: entry ${index}${id === undefined ? '' : ` (ID ${quoteForError(id)})`}`;
}

// Which element of the top-level array the text up to its end is inside of
// (-1 when it is outside the array), by counting commas at depth 1.
function entryAtEnd(prefix: string): number {
  let depth = 0;
  let index = -1;
  let inString = false;
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1 && ch === '[') index = 0;
    } else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) index = -1;
    } else if (ch === ',' && depth === 1) index++;
  }
  return depth >= 1 ? index : -1;
}

function utf8Error(bytes: Uint8Array, offset: number, source: string): DeviceListError {
  const index = entryAtEnd(new TextDecoder().decode(bytes.subarray(0, offset)));
  if (index < 0) return new DeviceListError(`device list ${source} is not valid UTF-8 (at byte offset ${offset}, outside any entry)`);
  let id: string | undefined;
  try {
    // Only to name the entry: the replacement characters show where the bad bytes were.
    const lenient: unknown = JSON.parse(new TextDecoder().decode(bytes));
    id = Array.isArray(lenient) ? entryId(lenient[index]) : undefined;
  } catch {
    id = undefined;
  }
  return new DeviceListError(`${entryLabel(source, index, id)}: invalid UTF-8 at byte offset ${offset}`);
}

/**
 * Parses and validates a device list, given as text or as the bytes of a
 * file (strict UTF-8, never repaired). `source` names it in errors.
 * @throws DeviceListError naming the entry index (from 0) and ID.
 */
export function parseDeviceList(input: string | Uint8Array, source: string): Device[] {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = decodeStrictUtf8(input);
    } catch (err) {
      if (err instanceof InvalidUtf8Error) throw utf8Error(input, err.offset, source);
      throw err;
    }
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DeviceListError(`device list ${source} is not valid JSON: ${printable((err as Error).message)}`, { cause: err });
  }
  if (!Array.isArray(data)) throw new DeviceListError(`device list ${source} must be a JSON array of {"ID", "Addr", "Location", "BMC"} objects`);
  if (data.length === 0) throw new DeviceListError(`device list ${source} is empty`);
  const devices: Device[] = [];
  const seen = new Map<string, number>();
  const bmcs = new Map<string, number>();
  data.forEach((raw: unknown, index) => {
    const where = entryLabel(source, index, entryId(raw));
    const parsed = deviceSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      const message = issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => quoteForError(k)).join(', ')}` : (issue?.message ?? 'invalid');
      throw new DeviceListError(`${where}: ${path}${message}`);
    }
    const device = parsed.data;
    const problem = addressProblem(device.Addr);
    if (problem !== undefined) throw new DeviceListError(`${where}: Addr ${quoteForError(device.Addr)} is not host[:port]: ${problem}`);
    const first = seen.get(device.ID);
    if (first !== undefined) throw new DeviceListError(`${where}: duplicate ID, also used by entry ${first}`);
    seen.set(device.ID, index);
    if (device.BMC !== undefined) {
      const same = bmcs.get(bmcIdentity(device.BMC));
      if (same !== undefined) throw new DeviceListError(`${where}: BMC: the same BMC${device.BMC.driver === 'redfish' ? ' and System' : ''} as entry ${same}`);
      bmcs.set(bmcIdentity(device.BMC), index);
    }
    devices.push(Object.freeze({ ...device }));
  });
  return devices;
}
