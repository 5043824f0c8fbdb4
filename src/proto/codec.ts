// Binary encode/decode for the takeover exchange, which travels over SSH
// stdin/stdout rather than through an RPC library, so nobody else frames it.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import {
  TakeoverInitSchema,
  TakeoverResponseSchema,
} from './gen/cloud/agent/api/takeover_pb.ts';
import type { TakeoverInit, TakeoverResponse } from './gen/cloud/agent/api/takeover_pb.ts';

/** Thrown by the decode helpers when the bytes are not a valid message of the expected type. */
export class WireDecodeError extends Error {
  override readonly name = 'WireDecodeError';
  readonly typeName: string;
  constructor(typeName: string, options: { cause: unknown }) {
    super(`malformed ${typeName} on the wire`, options);
    this.typeName = typeName;
  }
}

/** Builds a message from a plain init object (or passes a built one through) and serializes it. */
export function encodeMessage<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** Parses `bytes` as `schema`; malformed input throws WireDecodeError with the parser error as cause. */
export function decodeMessage<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
): MessageShape<Desc> {
  try {
    return fromBinary(schema, bytes);
  } catch (cause) {
    throw new WireDecodeError(schema.typeName, { cause });
  }
}

export function encodeTakeoverInit(init: MessageInitShape<typeof TakeoverInitSchema>): Uint8Array {
  return encodeMessage(TakeoverInitSchema, init);
}

export function decodeTakeoverInit(bytes: Uint8Array): TakeoverInit {
  return decodeMessage(TakeoverInitSchema, bytes);
}

export function encodeTakeoverResponse(
  init: MessageInitShape<typeof TakeoverResponseSchema>,
): Uint8Array {
  return encodeMessage(TakeoverResponseSchema, init);
}

export function decodeTakeoverResponse(bytes: Uint8Array): TakeoverResponse {
  return decodeMessage(TakeoverResponseSchema, bytes);
}
