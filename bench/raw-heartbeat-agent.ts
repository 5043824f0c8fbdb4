// A cheap stand-in for the agent's callback client, for the heartbeat bench:
// the same HTTP/2 + TLS connection with the agent's own client certificate,
// and the same gRPC frames on the wire, but the request is encoded once and
// each call is one stream with no client library in between. The load
// generator shares the two cores with the server under test, so every
// microsecond it spends per call is taken from the server's figure.
import http2 from 'node:http2';
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

/** A call that ended without gRPC status OK, with the status and message the server sent. */
export class HeartbeatCallError extends Error {
  override readonly name = 'HeartbeatCallError';
}

export class RawHeartbeatAgent {
  readonly #session: http2.ClientHttp2Session;
  readonly #frame: Buffer;
  readonly #headers: http2.OutgoingHttpHeaders;

  private constructor(session: http2.ClientHttp2Session, frame: Buffer, timeoutMs: number) {
    this.#session = session;
    this.#frame = frame;
    this.#headers = {
      ':method': 'POST',
      ':path': heartbeatMethodPath,
      'content-type': 'application/grpc+proto',
      te: 'trailers',
      'grpc-timeout': `${timeoutMs}m`,
    };
  }

  /** Connects (TLS handshake included) and returns once the session is up. */
  static async connect(opts: RawHeartbeatAgentOptions, timeoutMs: number): Promise<RawHeartbeatAgent> {
    const message = toBinary(AgentHeartbeatRequestSchema, create(AgentHeartbeatRequestSchema, { machineId: opts.machineId }));
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const session = http2.connect(`https://${opts.endpoint}`, { ca: toPem(opts.caCertificate, 'CERTIFICATE'), cert: opts.cert, key: opts.key });
    session.on('error', () => {}); // a failed call reports it
    await Promise.race([once(session, 'connect'), once(session, 'error').then(([err]) => Promise.reject(err as Error))]);
    return new RawHeartbeatAgent(session, frame, timeoutMs);
  }

  /** One heartbeat; resolves when the server answered OK. @throws HeartbeatCallError otherwise. */
  heartbeat(): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = this.#session.request(this.#headers, { endStream: false });
      let status: string | undefined;
      let message = '';
      const read = (h: http2.IncomingHttpHeaders) => {
        const s = h['grpc-status'];
        if (typeof s === 'string') {
          status = s;
          message = String(h['grpc-message'] ?? '');
        }
      };
      stream.on('response', read);
      stream.on('trailers', read);
      stream.on('error', (err) => reject(err));
      stream.on('close', () => {
        if (status === '0') resolve();
        else reject(new HeartbeatCallError(`grpc-status ${status ?? 'none'}: ${decodeURIComponent(message)}`));
      });
      stream.resume();
      stream.end(this.#frame);
    });
  }

  close(): void {
    this.#session.destroy();
  }
}
