// Takeover mode: the initializer runs us over SSH with a TakeoverInit on
// stdin and reads a TakeoverResponse from stdout. We make our key, persist
// the state and leave a daemon running behind us.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  TakeoverResponseSchema,
  decodeTakeoverInit,
  type TakeoverInit,
  type TakeoverResponse,
} from '../proto/index.ts';
import { generateAgentKey, privateKeyToPem, rawPublicKey } from './agent-identity.ts';
import { writeAgentState } from './agent-state.ts';

/** Largest TakeoverInit we read: ids, an endpoint and a CA certificate fit easily. */
export const MAX_TAKEOVER_INIT_BYTES = 64 * 1024;

/** Thrown when takeover cannot proceed; its message goes into TakeoverError. */
export class TakeoverError extends Error {
  override readonly name = 'TakeoverError';
}

/** Reads all of `input`, failing once it exceeds `maxBytes`. */
export async function readBounded(input: AsyncIterable<Uint8Array | string>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    total += b.length;
    if (total > maxBytes) throw new TakeoverError(`takeover init message is larger than ${maxBytes} bytes`);
    chunks.push(b);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export interface TakeoverOptions {
  readonly stateDir: string;
  /** Starts the heartbeat daemon so it outlives this process. */
  readonly startDaemon: () => Promise<void> | void;
  readonly signal?: AbortSignal;
}

/** A TakeoverResponse carrying TakeoverError. */
export function takeoverErrorResponse(message: string): TakeoverResponse {
  return create(TakeoverResponseSchema, { result: { case: 'error', value: { message } } });
}

/** Validates the init message, persists the state and starts the daemon; never throws. */
export async function takeover(initBytes: Uint8Array, opts: TakeoverOptions): Promise<TakeoverResponse> {
  let init: TakeoverInit;
  try {
    init = decodeTakeoverInit(initBytes);
  } catch {
    return takeoverErrorResponse('could not decode TakeoverInit');
  }
  try {
    if (init.machineId === '') throw new TakeoverError('TakeoverInit has an empty machine id');
    if (init.bmaasEndpoint === '') throw new TakeoverError('TakeoverInit has an empty BMaaS endpoint');
    const key = generateAgentKey();
    await writeAgentState(
      opts.stateDir,
      { machineId: init.machineId, endpoint: init.bmaasEndpoint, caCertificate: init.caCertificate, privateKeyPem: privateKeyToPem(key) },
      { signal: opts.signal },
    );
    await opts.startDaemon();
    const warning = init.caCertificate.length === 0 ? ['no CA certificate given: the callback server is verified against the system roots'] : [];
    return create(TakeoverResponseSchema, { result: { case: 'success', value: { initMessage: init, key: rawPublicKey(key), warning } } });
  } catch (err) {
    return takeoverErrorResponse(err instanceof TakeoverError ? err.message : `takeover failed: ${(err as Error).message}`);
  }
}

export function encodeResponse(res: TakeoverResponse): Uint8Array {
  return toBinary(TakeoverResponseSchema, res);
}
