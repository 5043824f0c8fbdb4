// gRPC unary calls served straight off HTTP/2 streams (the wire format of
// https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md, protobuf
// only). The callback server has one unary method, called by every agent of
// the fleet every 30 s; a general RPC framework's per-call machinery (request
// and response adapters, async iterables, three linked abort controllers)
// cost more CPU than the heartbeat itself. This reads one length-prefixed
// message, hands its bytes to the method, and writes its answer as a message
// plus trailers, or a trailers-only status.
import type http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';
import { Code, ConnectError } from '@connectrpc/connect';

/** What a method learns about its call besides the request bytes. */
export interface UnaryCall {
  /**
   * Aborted when the client goes away, at the deadline (reason a
   * CallDeadlineError) or when the endpoint is told to abort every call.
   */
  readonly signal: AbortSignal;
  readonly session: http2.Http2Session | undefined;
}

/** The reason of a call's signal at its deadline (the smaller of the client's and the server's). */
export class CallDeadlineError extends Error {
  override readonly name = 'CallDeadlineError';
  constructor() {
    super('deadline exceeded');
  }
}

/** The reason of a call's signal when its client reset the stream or dropped the connection. */
export class CallCancelledError extends Error {
  override readonly name = 'CallCancelledError';
  constructor() {
    super('the client cancelled the call');
  }
}

export interface UnaryMethod {
  /** `/package.Service/Method`. */
  readonly path: string;
  /** Answers one call with the response message's bytes; a ConnectError thrown is answered with its code and message. */
  call(request: Uint8Array, call: UnaryCall): Promise<Uint8Array>;
  /** The status for a body that is not one gRPC message (it never reaches call()). */
  malformed(why: string, call: UnaryCall): ConnectError;
}

export interface UnaryEndpointOptions {
  readonly method: UnaryMethod;
  /** Largest request message accepted, after decompression. */
  readonly readMaxBytes: number;
  /** Longest a call may run, whatever deadline the client sent. */
  readonly maxTimeoutMs: number;
}

const GRPC_CONTENT_TYPE = /^application\/grpc(\+proto)?(;|$)/i;
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'gzip' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

/** The client's grpc-timeout in milliseconds, or undefined when it sent none (or one that does not parse). */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  const m = typeof value === 'string' ? TIMEOUT.exec(value) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : undefined;
}

export class UnaryEndpoint {
  readonly #opts: UnaryEndpointOptions;
  // Calls running, so that abortAll() reaches them without a listener per call on a shared signal.
  readonly #running = new Set<AbortController>();

  constructor(opts: UnaryEndpointOptions) {
    this.#opts = opts;
  }

  /** Aborts every call running now and every call that starts later (shutdown's second stage). */
  abortAll(reason: Error): void {
    this.#aborted = reason;
    for (const c of this.#running) c.abort(reason);
  }

  #aborted: Error | undefined;

  /** Serves one stream of the HTTP/2 server ('stream' event). */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // A reset stream reports it here as well as by closing; a call handles the close.
    stream.on('error', () => {});
    if (headers[':method'] !== 'POST' || !GRPC_CONTENT_TYPE.test(headers['content-type'] ?? '')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const controller = new AbortController();
    const call: UnaryCall = { signal: controller.signal, session: stream.session };
    if (headers[':path'] !== this.#opts.method.path) {
      answerStatus(stream, new ConnectError(`${String(headers[':path'])} is not implemented`, Code.Unimplemented));
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip') {
      answerStatus(stream, new ConnectError(`unsupported grpc-encoding ${String(encoding)}`, Code.Unimplemented));
      return;
    }
    const timeoutMs = Math.max(1, Math.min(this.#opts.maxTimeoutMs, parseGrpcTimeout(headers['grpc-timeout']) ?? Infinity));
    const timer = setTimeout(() => controller.abort(new CallDeadlineError()), timeoutMs);
    this.#running.add(controller);
    if (this.#aborted) controller.abort(this.#aborted);
    let answered = false;
    stream.once('close', () => {
      clearTimeout(timer);
      this.#running.delete(controller);
      if (!answered) controller.abort(new CallCancelledError());
    });
    const finish = (reply: Uint8Array | ConnectError) => {
      answered = true;
      clearTimeout(timer);
      this.#running.delete(controller);
      if (stream.destroyed || stream.closed) return;
      if (reply instanceof ConnectError) answerStatus(stream, reply);
      else answerMessage(stream, reply);
    };
    this.#read(stream, encoding === 'gzip', (body) => {
      if (typeof body === 'string') return finish(this.#opts.method.malformed(body, call));
      this.#opts.method.call(body, call).then(finish, (err: unknown) => finish(ConnectError.from(err, Code.Internal)));
    });
  }

  /** Collects the request body; hands on the message bytes, or why the body is not one message. */
  #read(stream: http2.ServerHttp2Stream, gzip: boolean, done: (body: Uint8Array | string) => void): void {
    const max = this.#opts.readMaxBytes;
    let chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      // The envelope may name a smaller message than what arrives; bound the bytes kept either way
      // (gzip may make an incompressible message slightly longer).
      if (size > max + 5 + (gzip ? 1024 : 0)) {
        failed = true;
        chunks = [];
        done(`message larger than ${max} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => {
      if (failed) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (body.length < 5) return done(body.length === 0 ? 'no request message' : 'truncated message envelope');
      const length = body.readUInt32BE(1);
      if (body.length < 5 + length) return done('truncated message');
      if (body.length > 5 + length) return done('more than one request message for a unary method');
      let message: Uint8Array = body.subarray(5);
      if (body[0]! & 1) {
        if (!gzip) return done('compressed message without grpc-encoding');
        try {
          message = gunzipSync(message, { maxOutputLength: max });
        } catch (err) {
          return done(`decompress: ${(err as Error).message}`);
        }
      }
      if (message.length > max) return done(`message larger than ${max} bytes`);
      done(message);
    });
  }
}

function answerMessage(stream: http2.ServerHttp2Stream, message: Uint8Array): void {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
  stream.end(frame);
}

/** A trailers-only answer: the status travels in the only HEADERS frame. */
function answerStatus(stream: http2.ServerHttp2Stream, err: ConnectError): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(err.code), 'grpc-message': encodeURIComponent(err.rawMessage) }, { endStream: true });
}
