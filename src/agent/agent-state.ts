// What takeover leaves behind for the daemon: machine id, callback endpoint,
// CA certificate and the Ed25519 key. Readable by root only: a state
// directory (or file) found with a looser mode is tightened, and that is logged.
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

export const DEFAULT_STATE_DIR = '/var/lib/bmaas-agent';
export const STATE_FILE = 'agent-state.json';

export interface AgentState {
  readonly machineId: string;
  /** `host:port` of the callback server. */
  readonly endpoint: string;
  /** DER; empty = trust the system roots. */
  readonly caCertificate: Uint8Array;
  /** PKCS#8 PEM of the Ed25519 private key. */
  readonly privateKeyPem: string;
}

/** Thrown when the state file is missing or unreadable: run `takeover` first. */
export class AgentStateError extends Error {
  override readonly name = 'AgentStateError';
}

export interface AgentStateOptions {
  readonly signal?: AbortSignal;
  /** Where a tightened mode is reported (at warn). */
  readonly logger?: Logger;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Sets `target` to `mode` when group or others have any access to it, and
 * logs that. Missing targets are left alone (reading them reports that).
 * @throws AgentStateError when the mode cannot be changed (not our directory).
 */
async function tighten(target: string, mode: number, kind: string, log: Logger | undefined): Promise<void> {
  let found: number;
  try {
    found = (await stat(target)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((found & 0o077) === 0) return;
  try {
    await chmod(target, mode);
  } catch (cause) {
    throw new AgentStateError(`agent state ${kind} ${target} has mode ${octal(found)} and cannot be set to ${octal(mode)}`, { cause });
  }
  log?.warn({ path: target, mode: octal(found), newMode: octal(mode) }, `agent state ${kind} was accessible to other users; tightened its mode`);
}

/** Writes the state atomically with mode 0600 (directory 0700, tightened when it already existed looser). */
export async function writeAgentState(dir: string, state: AgentState, opts: AgentStateOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory as it was.
  await tighten(dir, 0o700, 'directory', opts.logger);
  const file = path.join(dir, STATE_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const body = JSON.stringify({
    version: 1,
    machineId: state.machineId,
    endpoint: state.endpoint,
    caCertificate: Buffer.from(state.caCertificate).toString('base64'),
    privateKeyPem: state.privateKeyPem,
  });
  await writeFile(tmp, `${body}\n`, { mode: 0o600, signal: opts.signal });
  // writeFile keeps the mode of a file that already existed.
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}

/** Reads the state, first tightening a directory (0700) or file (0600) that others could read. */
export async function readAgentState(dir: string, opts: AgentStateOptions = {}): Promise<AgentState> {
  const file = path.join(dir, STATE_FILE);
  await tighten(dir, 0o700, 'directory', opts.logger);
  await tighten(file, 0o600, 'file', opts.logger);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(await readFile(file, { encoding: 'utf8', signal: opts.signal })) as Record<string, unknown>;
  } catch (cause) {
    throw new AgentStateError(`cannot read agent state ${file} (has takeover run?)`, { cause });
  }
  const { machineId, endpoint, caCertificate, privateKeyPem } = parsed;
  if (typeof machineId !== 'string' || typeof endpoint !== 'string' || typeof caCertificate !== 'string' || typeof privateKeyPem !== 'string') {
    throw new AgentStateError(`agent state ${file} is malformed`);
  }
  return { machineId, endpoint, caCertificate: new Uint8Array(Buffer.from(caCertificate, 'base64')), privateKeyPem };
}
