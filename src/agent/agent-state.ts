// What takeover leaves behind for the daemon: machine id, callback endpoint,
// CA certificate and the Ed25519 key. Readable by root only.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

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

/** Writes the state atomically with mode 0600 (directory 0700). */
export async function writeAgentState(dir: string, state: AgentState, opts: { signal?: AbortSignal } = {}): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
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

export async function readAgentState(dir: string, opts: { signal?: AbortSignal } = {}): Promise<AgentState> {
  const file = path.join(dir, STATE_FILE);
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
