// The takeover exchange (docs/architecture.md#initializer): upload the agent, run it
// with a TakeoverInit on stdin, and check the TakeoverResponse it prints.
import { decodeTakeoverResponse, encodeTakeoverInit, type TakeoverInit } from '../proto/index.ts';
import type { SshConnection } from './ssh/index.ts';

/** What the initializer tells the agent. */
export interface TakeoverInitFields {
  readonly machineId: string;
  /** host:port of the agent callback server. */
  readonly bmaasEndpoint: string;
  /** DER of the CA that signed the callback server's certificate; empty = system roots. */
  readonly caCertificate?: Uint8Array;
}

export interface TakeoverResult {
  /** The agent's Ed25519 public key, 32 bytes. */
  readonly key: Uint8Array;
  readonly warnings: readonly string[];
  /** What the agent wrote to stderr (bounded by the SSH layer). */
  readonly stderr: string;
}

/** The agent's answer was an error, malformed, or did not match what we sent. */
export class TakeoverFailedError extends Error {
  override name = 'TakeoverFailedError';
  /** What the agent wrote to stderr, for the logs. */
  readonly stderr: string;
  constructor(message: string, stderr = '', options?: ErrorOptions) {
    super(message, options);
    this.stderr = stderr;
  }
}

// How much of stderr goes into an error message (the full text is logged).
const STDERR_IN_MESSAGE = 512;

/** Quotes a path for the remote POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Uploads `agentExecutablePath` to `agentTargetPath` (mode 0755), runs it with
 * the serialized init message on stdin and validates the response.
 * @throws TakeoverFailedError for an error result, a bad exit, a malformed
 *   response, a wrong echo of the init message or a key that is not 32 bytes.
 */
export async function runTakeover(
  connection: SshConnection,
  args: { agentExecutablePath: string; agentTargetPath: string; init: TakeoverInitFields },
  options: { signal?: AbortSignal } = {},
): Promise<TakeoverResult> {
  const { signal } = options;
  await connection.upload(args.agentExecutablePath, args.agentTargetPath, { mode: 0o755, signal });
  const stdin = encodeTakeoverInit({
    machineId: args.init.machineId,
    bmaasEndpoint: args.init.bmaasEndpoint,
    caCertificate: args.init.caCertificate ?? new Uint8Array(),
  });
  const result = await connection.exec(shellQuote(args.agentTargetPath), { stdin, signal });
  const stderr = result.stderr.toString('utf8');
  return { ...checkTakeoverResponse(args.init, result.stdout, result.exitCode, stderr, result.signal), stderr };
}

/** Validates the agent's stdout against what was sent; see runTakeover. */
export function checkTakeoverResponse(
  init: TakeoverInitFields,
  stdout: Uint8Array,
  exitCode: number | null,
  stderr = '',
  exitSignal?: string,
): { key: Uint8Array; warnings: readonly string[] } {
  const tail = stderr.length > STDERR_IN_MESSAGE ? `...${stderr.slice(-STDERR_IN_MESSAGE)}` : stderr;
  const how = exitCode === null ? `died of ${exitSignal ?? 'an unknown signal'}` : `exited with code ${exitCode}`;
  if (stdout.length === 0) {
    throw new TakeoverFailedError(`agent ${how} without a response${tail ? `; stderr: ${tail.trim()}` : ''}`, stderr);
  }
  let response;
  try {
    response = decodeTakeoverResponse(stdout);
  } catch (err) {
    throw new TakeoverFailedError(`agent ${how} and printed a malformed TakeoverResponse${tail ? `; stderr: ${tail.trim()}` : ''}`, stderr, { cause: err });
  }
  const r = response.result;
  if (r.case === 'error') throw new TakeoverFailedError(`agent reported a takeover error: ${r.value.message}`, stderr);
  if (r.case !== 'success') throw new TakeoverFailedError(`agent ${how} and its TakeoverResponse holds no result`, stderr);
  if (exitCode !== 0) throw new TakeoverFailedError(`agent answered success but ${how}`, stderr);
  const echo = r.value.initMessage;
  if (echo === undefined || !sameInit(echo, init)) {
    throw new TakeoverFailedError('agent echoed a different TakeoverInit than the one sent (stale or foreign agent?)', stderr);
  }
  if (r.value.key.length !== 32) throw new TakeoverFailedError(`agent public key must be 32 bytes (Ed25519), got ${r.value.key.length}`, stderr);
  return { key: r.value.key, warnings: r.value.warning };
}

function sameInit(echo: TakeoverInit, sent: TakeoverInitFields): boolean {
  const ca = sent.caCertificate ?? new Uint8Array();
  return echo.machineId === sent.machineId && echo.bmaasEndpoint === sent.bmaasEndpoint && Buffer.from(echo.caCertificate).equals(Buffer.from(ca));
}
