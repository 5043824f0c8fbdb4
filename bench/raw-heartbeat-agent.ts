// A cheap stand-in for the agent's callback client, for the heartbeat bench:
// the agent's own TLS connection and client certificate, and the gRPC call
// the agent makes, but HTTP/2 spoken by hand. The request's HEADERS and DATA
// frames are encoded once (HPACK literals that never touch the dynamic
// table, so they stay valid for every call) and each call writes them with a
// new stream id. The load generator shares the two cores with the server under
// test, so every microsecond it spends per call is taken from the server's
// figure; Node's HTTP/2 client costs about as much per call as the server.
//
// The answer is not HPACK-decoded: a call counts as accepted when its
// stream brought a response message and then ended with trailers, which is how
// the server answers OK (every refusal is a trailers-only answer: one HEADERS
// frame that ends the stream, or a reset). The bench checks the total against
// the server's own count of accepted heartbeats.
import tls from 'node:tls';
import { once } from 'node:events';
import { create, toBinary } from '@bufbuild/protobuf';
import { AgentHeartbeatRequestSchema, heartbeatMethodPath } from '../src/proto/index.ts';
import { toPem } from '../src/lib/index.ts';

export interface RawHeartbeatAgentOptions {
  /** `host:port` of the callback server. */
  readonly endpoint: string;
  readonly caCertificate: Uint8Array;
  readonly machineId: string;
  /** PEM client certificate and key (clientCertificate()). */
  readonly cert: string;
  readonly key: string;
}

/** A call that did not end the way an OK answer does. */
export class HeartbeatCallError extends Error {
  override readonly name = 'HeartbeatCallError';
}

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const END_STREAM = 1;
const ACK = 1;
const END_HEADERS = 4;
const MAX_WINDOW = 2 ** 31 - 1;

function frame(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
  const f = Buffer.alloc(9 + payload.length);
  f.writeUIntBE(payload.length, 0, 3);
  f[3] = type;
  f[4] = flags;
  f.writeUInt32BE(streamId, 5);
  f.set(payload, 9);
  return f;
}

/** An HPACK string literal, not Huffman-coded (names and values here are all shorter than 127 bytes). */
function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.of(b.length), b]);
}

function requestHeaderBlock(authority: string, timeoutMs: number): Buffer {
  return Buffer.concat([
    Buffer.of(0x83, 0x87), // :method POST, :scheme https (static table 3 and 7)
    Buffer.of(0x04), hpackString(heartbeatMethodPath), // literal without indexing, name :path (4)
    Buffer.of(0x01), hpackString(authority), // :authority (1)
    Buffer.of(0x0f, 0x10), hpackString('application/grpc+proto'), // content-type (31)
    Buffer.of(0x00), hpackString('te'), hpackString('trailers'),
    Buffer.of(0x00), hpackString('grpc-timeout'), hpackString(`${timeoutMs}m`),
  ]);
}

export class RawHeartbeatAgent {
  readonly #socket: tls.TLSSocket;
  // HEADERS then DATA of one call; the two stream ids are patched per call.
  readonly #request: Buffer;
  readonly #dataOffset: number;
  #nextStream = 1;
  #pending: Buffer = Buffer.alloc(0);
  #call: { stream: number; gotMessage: boolean; resolve: () => void; reject: (err: Error) => void } | undefined;
  #failed: Error | undefined;

  private constructor(socket: tls.TLSSocket, headerBlock: Buffer, message: Uint8Array) {
    this.#socket = socket;
    const grpc = Buffer.alloc(5 + message.length);
    grpc.writeUInt32BE(message.length, 1);
    grpc.set(message, 5);
    const headers = frame(HEADERS, END_HEADERS, 0, headerBlock);
    this.#request = Buffer.concat([headers, frame(DATA, END_STREAM, 0, grpc)]);
    this.#dataOffset = headers.length;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new HeartbeatCallError('connection closed')));
  }

  /** Connects, sends the HTTP/2 preface and settings, and returns once TLS is up. */
  static async connect(opts: RawHeartbeatAgentOptions, timeoutMs: number): Promise<RawHeartbeatAgent> {
    const [host, port] = [opts.endpoint.slice(0, opts.endpoint.lastIndexOf(':')), Number(opts.endpoint.slice(opts.endpoint.lastIndexOf(':') + 1))];
    const socket = tls.connect({ host, port, ca: toPem(opts.caCertificate, 'CERTIFICATE'), cert: opts.cert, key: opts.key, ALPNProtocols: ['h2'] });
    await Promise.race([once(socket, 'secureConnect'), once(socket, 'error').then(([err]) => Promise.reject(err as Error))]);
    if (socket.alpnProtocol !== 'h2') throw new HeartbeatCallError(`server chose ${String(socket.alpnProtocol)}, not h2`);
    socket.setNoDelay(true);
    // SETTINGS: no push, the largest stream window; then open the connection window all the way.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(MAX_WINDOW - 65_535);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(SETTINGS, 0, 0, settings), frame(8, 0, 0, increment)]));
    const message = toBinary(AgentHeartbeatRequestSchema, create(AgentHeartbeatRequestSchema, { machineId: opts.machineId }));
    return new RawHeartbeatAgent(socket, requestHeaderBlock(opts.endpoint, timeoutMs), message);
  }

  /** One heartbeat; resolves when it was answered the way OK is. @throws HeartbeatCallError otherwise. */
  heartbeat(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#call) return Promise.reject(new HeartbeatCallError('one call at a time'));
    const stream = this.#nextStream;
    this.#nextStream += 2;
    this.#request.writeUInt32BE(stream, 5);
    this.#request.writeUInt32BE(stream, this.#dataOffset + 5);
    return new Promise((resolve, reject) => {
      this.#call = { stream, gotMessage: false, resolve, reject };
      // The socket copies nothing: hand it a copy, since the next call patches the buffer.
      this.#socket.write(Buffer.from(this.#request));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < 9 + length) break;
      const type = buf[3]!;
      const flags = buf[4]!;
      const stream = buf.readUInt32BE(5) & 0x7fffffff;
      const payload = buf.subarray(9, 9 + length);
      buf = buf.subarray(9 + length);
      this.#frame(type, flags, stream, payload);
    }
    this.#pending = buf;
  }

  #frame(type: number, flags: number, stream: number, payload: Buffer): void {
    if (type === SETTINGS && !(flags & ACK)) this.#socket.write(frame(SETTINGS, ACK, 0, new Uint8Array(0)));
    else if (type === PING && !(flags & ACK)) this.#socket.write(frame(PING, ACK, 0, payload));
    else if (type === GOAWAY) this.#fail(new HeartbeatCallError(`GOAWAY, error code ${payload.readUInt32BE(4)}`));
    const call = this.#call;
    if (!call || stream !== call.stream) return;
    if (type === DATA && payload.length >= 5) call.gotMessage = true;
    else if (type === RST_STREAM) this.#end(new HeartbeatCallError(`stream reset, error code ${payload.readUInt32BE(0)}`));
    if (type === HEADERS && flags & END_STREAM) this.#end(call.gotMessage ? undefined : new HeartbeatCallError('refused (trailers-only answer)'));
  }

  #end(err: Error | undefined): void {
    const call = this.#call!;
    this.#call = undefined;
    if (err) call.reject(err);
    else call.resolve();
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    if (this.#call) this.#end(err);
  }
}
