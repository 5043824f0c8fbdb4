// The optional `BMC` object of a device-list entry: how to reach the
// machine's baseboard management controller and log in to it. Only the
// password's source is named here (a file or an environment variable); the
// password itself is read when a driver needs it (bmc-password.ts).
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { textField, textProblem } from './device-text.ts';
import { formatHostPort, parseHostPort } from '../../../lib/index.ts';

/** Where the password is read from: a file (one trailing newline dropped) or an environment variable. */
export type BmcPasswordSource = { readonly file: string } | { readonly env: string };

/** How a Redfish driver checks the BMC's HTTPS certificate. */
export type BmcTls =
  /** The system's root certificates (the default). */
  | { readonly mode: 'verify' }
  /** A CA certificate (PEM file) instead of the system roots. */
  | { readonly mode: 'ca'; readonly caCertificateFile: string }
  /** The SHA-256 of the BMC certificate's DER, 64 lowercase hex digits; nothing else is checked. */
  | { readonly mode: 'fingerprint'; readonly sha256: string }
  /** No check at all (drivers log a warning once per BMC). */
  | { readonly mode: 'insecure' };

export interface RedfishBmcSpec {
  readonly driver: 'redfish';
  /** The service's origin, e.g. `https://10.0.1.11` or `https://[2001:db8::1]:8443` (no path). */
  readonly endpoint: string;
  /** A system's `@odata.id` (`/redfish/v1/Systems/…`) or its `Id`; absent: the BMC's only system. */
  readonly system?: string;
  readonly username: string;
  readonly password: BmcPasswordSource;
  readonly tls: BmcTls;
}

export interface IpmiBmcSpec {
  readonly driver: 'ipmi';
  /** `host:port` (`[v6]:port`), the port filled in with 623 when the list had none. */
  readonly endpoint: string;
  readonly username: string;
  readonly password: BmcPasswordSource;
}

/** A validated `BMC` object. It holds no secret: it is safe to log. */
export type BmcSpec = RedfishBmcSpec | IpmiBmcSpec;

export const DEFAULT_IPMI_PORT = 623;
/** IPMI 2.0 carries at most 16 bytes of user name. */
const IPMI_USERNAME_BYTES = 16;

const PATH_RULES = { max: 4096 };
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

const absolutePath = textField(PATH_RULES).refine((p) => isAbsolute(p), 'must be an absolute path');

const rawBmcSchema = z.strictObject({
  Driver: z.enum(['redfish', 'ipmi'], 'must be "redfish" or "ipmi"'),
  Endpoint: textField({ max: 2048 }),
  System: textField({ max: 1024 }).optional(),
  Username: textField({ max: 256 }),
  PasswordFile: absolutePath.optional(),
  PasswordEnv: z.string().regex(ENV_NAME, 'must be an environment variable name (letters, digits, _)').optional(),
  TLS: z.unknown().optional(),
});

type Problem = { readonly path: string; readonly message: string };

function redfishEndpoint(text: string): string | Problem {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { path: 'Endpoint', message: 'is not a URL (expected https://host[:port])' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { path: 'Endpoint', message: 'must be an http:// or https:// URL for the redfish driver' };
  if (url.username !== '' || url.password !== '') return { path: 'Endpoint', message: 'must not carry credentials (use Username and PasswordFile or PasswordEnv)' };
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return { path: 'Endpoint', message: 'must be scheme://host[:port] only (the service root is always /redfish/v1)' };
  return url.origin;
}

// TEMPORARY minimal host[:port] check for IPMI endpoints: switch it to the
// shared parser of src/lib/host-port.ts once that lands.
function ipmiEndpoint(text: string): string | Problem {
  try {
    return formatHostPort(parseHostPort(text, { defaultPort: DEFAULT_IPMI_PORT }));
  } catch (err) {
    return { path: 'Endpoint', message: `is not host[:port] for the ipmi driver: ${(err as Error).message}` };
  }
}

function system(text: string): string | Problem {
  if (text.startsWith('/')) {
    if (!/^\/redfish\/v1\/Systems\/[^/?#]+$/.test(text)) return { path: 'System', message: 'must be /redfish/v1/Systems/<Id> or a bare Id' };
  } else if (/[/?#]/.test(text)) {
    return { path: 'System', message: 'must be /redfish/v1/Systems/<Id> or a bare Id' };
  }
  return text;
}

function fingerprint(text: string): string | undefined {
  const m = /^SHA256:(.+)$/i.exec(text);
  if (!m) return undefined;
  const digest = m[1]!;
  if (/^[0-9a-f]{64}$/i.test(digest) || /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i.test(digest)) return digest.replaceAll(':', '').toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=?$/.test(digest)) {
    const bytes = Buffer.from(digest, 'base64');
    // Only the canonical spelling: the unused low bits of the last character must be zero.
    if (bytes.length === 32 && bytes.toString('base64').replace(/=$/, '') === digest.replace(/=$/, '')) return bytes.toString('hex');
  }
  return undefined;
}

function tls(value: unknown): BmcTls | Problem {
  if (value === undefined || value === 'verify') return { mode: 'verify' };
  if (value === 'insecure') return { mode: 'insecure' };
  const usage = 'must be "verify", "insecure", {"CACertificate": "/path.pem"} or {"Fingerprint": "SHA256:…"}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path: 'TLS', message: usage };
  const keys = Object.keys(value);
  if (keys.length !== 1) return { path: 'TLS', message: usage };
  const entry = value as Record<string, unknown>;
  if ('CACertificate' in entry) {
    const file = entry['CACertificate'];
    if (typeof file !== 'string') return { path: 'TLS.CACertificate', message: 'must be a string' };
    const problem = textProblem(file, PATH_RULES) ?? (isAbsolute(file) ? undefined : 'must be an absolute path');
    return problem === undefined ? { mode: 'ca', caCertificateFile: file } : { path: 'TLS.CACertificate', message: problem };
  }
  if ('Fingerprint' in entry) {
    const sha256 = typeof entry['Fingerprint'] === 'string' ? fingerprint(entry['Fingerprint']) : undefined;
    if (sha256 === undefined) return { path: 'TLS.Fingerprint', message: 'must be "SHA256:" and the certificate\'s SHA-256 in hex (64 digits, colons allowed) or base64 (43 characters, "=" optional)' };
    return { mode: 'fingerprint', sha256 };
  }
  return { path: 'TLS', message: `${usage}, not ${JSON.stringify(keys[0])}` };
}

function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && 'message' in v && 'path' in v;
}

/** The `BMC` object as zod validates it, turned into a BmcSpec. */
export const bmcSchema = rawBmcSchema.transform((raw, ctx): BmcSpec => {
  const fail = (p: Problem): never => {
    ctx.addIssue({ code: 'custom', message: p.message, path: p.path.split('.') });
    return z.NEVER;
  };
  if ((raw.PasswordFile === undefined) === (raw.PasswordEnv === undefined)) {
    return fail({ path: 'PasswordFile', message: 'exactly one of PasswordFile and PasswordEnv must be given' });
  }
  const password: BmcPasswordSource = raw.PasswordFile !== undefined ? { file: raw.PasswordFile } : { env: raw.PasswordEnv! };
  if (raw.Driver === 'ipmi') {
    if (raw.System !== undefined) return fail({ path: 'System', message: 'applies to the redfish driver only' });
    if (raw.TLS !== undefined) return fail({ path: 'TLS', message: 'applies to the redfish driver only (IPMI over LAN has no TLS)' });
    if (Buffer.byteLength(raw.Username) > IPMI_USERNAME_BYTES) return fail({ path: 'Username', message: `must be at most ${IPMI_USERNAME_BYTES} bytes for IPMI` });
    const endpoint = ipmiEndpoint(raw.Endpoint);
    if (isProblem(endpoint)) return fail(endpoint);
    return { driver: 'ipmi', endpoint, username: raw.Username, password };
  }
  const endpoint = redfishEndpoint(raw.Endpoint);
  if (isProblem(endpoint)) return fail(endpoint);
  if (endpoint.startsWith('http:') && raw.TLS !== undefined) return fail({ path: 'TLS', message: 'applies to https:// endpoints only' });
  const checked = tls(raw.TLS);
  if (isProblem(checked)) return fail(checked);
  const sys = raw.System === undefined ? undefined : system(raw.System);
  if (isProblem(sys)) return fail(sys);
  return { driver: 'redfish', endpoint, ...(sys === undefined ? {} : { system: sys }), username: raw.Username, password, tls: checked };
});

/** Two entries naming the same BMC (and system) would power-cycle each other's machine: the key that must be unique. */
export function bmcIdentity(spec: BmcSpec): string {
  return spec.driver === 'redfish' ? `redfish ${spec.endpoint} ${spec.system ?? ''}` : `ipmi ${spec.endpoint}`;
}
