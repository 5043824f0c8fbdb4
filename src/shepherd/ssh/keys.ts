// The shepherd's own SSH credentials: a private key it creates on first use,
// or a password read from a file.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import type { Logger } from 'pino';
import { SshCredentialsError } from './errors.ts';
import { generateEd25519KeyPair } from '../../lib/ssh-keygen.ts';

// ssh2 is CommonJS; Node exposes only its default export to ES modules.
const { utils } = ssh2;

export interface LoadedSshKey {
  /** The private key file's bytes, as ssh2 takes them. */
  readonly privateKey: Buffer;
  /** "ssh-ed25519 AAAA..." — the line to put in authorized_keys. */
  readonly publicKeyOpenSsh: string;
  /** True when the file did not exist and was generated now. */
  readonly created: boolean;
  /**
   * True when an existing key file is readable by group or others. OpenSSH
   * refuses such a file; we still use it (secrets are often mounted 0644) but
   * the caller should warn, and this function logs a warning when given a log.
   */
  readonly permissionsTooOpen: boolean;
}

export interface LoadOrCreateSshKeyOptions {
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  /** Comment stored in a generated key; default "bmaas-shepherd". */
  readonly comment?: string;
}

/**
 * Reads an unencrypted OpenSSH (or PEM) private key from `path`. When the file
 * is missing, generates an Ed25519 key, writes it with mode 0600 (creating the
 * directory 0700 if needed) and the public key next to it as `path.pub`. Two
 * processes racing to create it both end up using the file that won.
 * Throws SshCredentialsError when the file cannot be read or parsed.
 */
export async function loadOrCreateSshKey(path: string, options: LoadOrCreateSshKeyOptions = {}): Promise<LoadedSshKey> {
  const { signal, log } = options;
  let privateKey: Buffer;
  let created = false;
  try {
    privateKey = await readFile(path, { signal });
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw new SshCredentialsError(`could not read ssh key ${path}`, { cause: err });
    const pair = generateEd25519KeyPair(options.comment ?? 'bmaas-shepherd');
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      // 'wx' fails if someone else created it meanwhile; then we read theirs.
      await writeFile(path, pair.private, { mode: 0o600, flag: 'wx', signal });
      await writeFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644, signal });
      created = true;
      log?.info({ path }, 'generated a new ssh key');
    } catch (writeErr) {
      if (!isErrno(writeErr, 'EEXIST')) {
        throw new SshCredentialsError(`could not write ssh key ${path}`, { cause: writeErr });
      }
    }
    privateKey = await readFile(path, { signal });
  }

  const parsed = parsePrivateKey(privateKey, path);
  const publicKeyOpenSsh = `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
  const mode = (await stat(path)).mode & 0o777;
  const permissionsTooOpen = (mode & 0o077) !== 0;
  if (permissionsTooOpen) {
    log?.warn({ path, mode: mode.toString(8) }, 'ssh key file is readable by other users');
  }
  return { privateKey, publicKeyOpenSsh, created, permissionsTooOpen };
}

function parsePrivateKey(data: Buffer, path: string): ParsedKey {
  let parsed: ParsedKey | ParsedKey[] | Error;
  try {
    parsed = utils.parseKey(data);
  } catch (err) {
    throw new SshCredentialsError(`could not parse ssh key ${path}`, { cause: err });
  }
  if (parsed instanceof Error) {
    throw new SshCredentialsError(`could not parse ssh key ${path} (encrypted keys are not supported)`, {
      cause: parsed,
    });
  }
  // An OpenSSH file may hold several keys; ssh2 authenticates with the first.
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) throw new SshCredentialsError(`${path} holds no private key`);
  return key;
}

/**
 * Reads a password file, dropping trailing line breaks (editors add one) but
 * keeping other whitespace, which may be part of the password. An empty
 * password is refused as a likely mistake.
 */
export async function readPasswordFile(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal });
  } catch (err) {
    throw new SshCredentialsError(`could not read password file ${path}`, { cause: err });
  }
  const password = text.replace(/(?:\r?\n)+$/, '');
  if (password === '') throw new SshCredentialsError(`password file ${path} is empty`);
  return password;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
