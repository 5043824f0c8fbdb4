// Reads a BMC password from where the device list says it is, at the moment
// a driver needs it (so a rotated password is picked up without a reload).
// The result is a Secret; no error message here contains the password.
import { readFile } from 'node:fs/promises';
import { Secret } from '../../../lib/secret.ts';
import type { BmcPasswordSource, BmcSpec } from './bmc-spec.ts';
import { decodeStrictUtf8, InvalidUtf8Error } from './strict-utf8.ts';

/** Thrown when a BMC password cannot be read or is unusable; names the file or variable, never the password. */
export class BmcPasswordError extends Error {
  override name = 'BmcPasswordError';
}

/** More than this is not a password but the wrong file. */
const MAX_PASSWORD_BYTES = 1024;

function checked(value: string, where: string): Secret {
  if (value === '') throw new BmcPasswordError(`${where} is empty`);
  if (/[\0\r\n]/.test(value)) throw new BmcPasswordError(`${where} must hold one line without NUL (only one trailing newline is dropped)`);
  return new Secret(value);
}

/**
 * The password from a file (one trailing "\n" or "\r\n" dropped) or an
 * environment variable (`env` defaults to process.env).
 * @throws BmcPasswordError when it is missing, empty, not UTF-8 or more than one line.
 */
export async function resolveBmcPassword(source: BmcPasswordSource, opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<Secret> {
  if ('env' in source) {
    const value = (opts.env ?? process.env)[source.env];
    if (value === undefined) throw new BmcPasswordError(`BMC password variable ${source.env} is not set`);
    return checked(value, `BMC password variable ${source.env}`);
  }
  const where = `BMC password file ${source.file}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(source.file, { signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    // Only the code: a read error's message holds nothing secret, but keep it short and certain.
    throw new BmcPasswordError(`cannot read ${where}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`);
  }
  if (bytes.length > MAX_PASSWORD_BYTES) throw new BmcPasswordError(`${where} is longer than ${MAX_PASSWORD_BYTES} bytes`);
  let text: string;
  try {
    text = decodeStrictUtf8(bytes);
  } catch (err) {
    if (err instanceof InvalidUtf8Error) throw new BmcPasswordError(`${where} is not UTF-8 (at byte offset ${err.offset})`);
    throw err;
  }
  return checked(text.replace(/\r?\n$/, ''), where);
}

/** A BMC spec with its password read: the options object the BMC drivers take. */
type WithSecret<S> = S extends BmcSpec ? Omit<S, 'password'> & { readonly password: Secret } : never;
export type ResolvedBmcSpec = WithSecret<BmcSpec>;

/** Reads the password of `spec`. @throws BmcPasswordError */
export async function resolveBmcSpec(spec: BmcSpec, opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedBmcSpec> {
  const password = await resolveBmcPassword(spec.password, opts);
  return { ...spec, password } as ResolvedBmcSpec;
}
