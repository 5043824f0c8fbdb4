// The unary endpoint on a plain-text HTTP/2 server: framing, status answers,
// deadlines, cancellation and abortAll, without a database.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { CallCancelledError, CallDeadlineError, UnaryEndpoint, parseGrpcTimeout, type UnaryCall } from './grpc-unary-endpoint.ts';

interface Answer {
  readonly httpStatus: number;
  readonly status: string | undefined;
  readonly message: string;
  readonly body: Buffer;
}

function frame(payload: Uint8Array): Buffer {
  const f = Buffer.alloc(5 + payload.length);
  f.writeUInt32BE(payload.length, 1);
  f.set(payload, 5);
  return f;
}

async function call(client: http2.ClientHttp2Session, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  const stream = client.request({ ':method': 'POST', ':path': '/t.S/M', 'content-type': 'application/grpc', te: 'trailers', ...headers });
  const fields: http2.IncomingHttpHeaders = {};
  const chunks: Buffer[] = [];
  stream.on('response', (h) => Object.assign(fields, h));
  stream.on('trailers', (h) => Object.assign(fields, h));
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.end(body);
  await once(stream, 'close');
  const status = fields['grpc-status'];
  return { httpStatus: Number(fields[':status']), status: typeof status === 'string' ? status : undefined, message: decodeURIComponent(String(fields['grpc-message'] ?? '')), body: Buffer.concat(chunks) };
}

describe('grpc unary endpoint', () => {
  const seen: UnaryCall[] = [];
  let hold: Promise<void> = Promise.resolve();
  const endpoint = new UnaryEndpoint({
    readMaxBytes: 16,
    maxTimeoutMs: 200,
    method: {
      path: '/t.S/M',
      malformed: (why) => new ConnectError(why, Code.InvalidArgument),
      async call(request, c) {
        seen.push(c);
        await Promise.race([hold, new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason as Error)))]);
        if (request[0] === 0x21) throw new ConnectError('no!', Code.PermissionDenied);
        return Uint8Array.from([...request].reverse());
      },
    },
  });
  const server = http2.createServer();
  server.on('stream', (s, h) => endpoint.serve(s, h));
  let client: http2.ClientHttp2Session;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(() => {
    client.close();
    server.close();
  });

  it('answers one message with one message and status OK', async () => {
    const a = await call(client, frame(Uint8Array.from([1, 2, 3])));
    assert.equal(a.status, '0');
    assert.deepEqual([...a.body], [0, 0, 0, 0, 3, 3, 2, 1]);
  });

  it('answers a thrown ConnectError trailers-only, with its code and message', async () => {
    const a = await call(client, frame(Uint8Array.from([0x21])));
    assert.deepEqual([a.status, a.message, a.body.length], [String(Code.PermissionDenied), 'no!', 0]);
  });

  it('refuses bodies that are not one message through malformed(), and unknown paths and content types', async () => {
    for (const body of [Buffer.alloc(0), Buffer.from([0, 0]), Buffer.from([0, 0, 0, 0, 9, 1]), Buffer.concat([frame(Uint8Array.of(1)), frame(Uint8Array.of(2))]), frame(new Uint8Array(17))]) {
      assert.equal((await call(client, body)).status, String(Code.InvalidArgument), body.toString('hex'));
    }
    assert.equal((await call(client, frame(Uint8Array.of(1)), { ':path': '/t.S/Other' })).status, String(Code.Unimplemented));
    assert.equal((await call(client, frame(Uint8Array.of(1)), { 'content-type': 'application/json' })).httpStatus, 415);
  });

  it('aborts a call at the smaller of the two deadlines, when its client resets it, and on abortAll', async () => {
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    seen.length = 0;
    assert.equal((await call(client, frame(Uint8Array.of(1)), { 'grpc-timeout': '50m' })).status, String(Code.Internal));
    assert.ok(seen[0]!.signal.reason instanceof CallDeadlineError);
    await call(client, frame(Uint8Array.of(1)), { 'grpc-timeout': '1H' });
    assert.ok(seen[1]!.signal.reason instanceof CallDeadlineError, 'the server bound of 200 ms applies');

    const s = client.request({ ':method': 'POST', ':path': '/t.S/M', 'content-type': 'application/grpc' });
    s.on('error', () => {});
    s.end(frame(Uint8Array.of(1)));
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    s.close(http2.constants.NGHTTP2_CANCEL);
    await once(seen[2]!.signal, 'abort');
    assert.ok(seen[2]!.signal.reason instanceof CallCancelledError);

    const pending = call(client, frame(Uint8Array.of(1)));
    while (seen.length < 4) await new Promise((r) => setTimeout(r, 5));
    const reason = new Error('shutdown');
    endpoint.abortAll(reason);
    await pending;
    assert.equal(seen[3]!.signal.reason, reason);
    release();
  });

  it('takes a gzip-compressed message under grpc-encoding gzip, and refuses one without it', async () => {
    const compressed = frame(gzipSync(Uint8Array.from([7, 8])));
    compressed[0] = 1;
    const a = await call(client, compressed, { 'grpc-encoding': 'gzip' });
    assert.deepEqual([a.status, [...a.body]], ['0', [0, 0, 0, 0, 2, 8, 7]]);
    assert.equal((await call(client, compressed)).status, String(Code.InvalidArgument));
    assert.equal((await call(client, compressed, { 'grpc-encoding': 'br' })).status, String(Code.Unimplemented));
  });

  it('parses grpc-timeout in every unit', () => {
    assert.deepEqual(['1H', '2M', '3S', '4m', '5000u', '6000000n', 'x', '123456789m', undefined].map(parseGrpcTimeout), [3_600_000, 120_000, 3000, 4, 5, 6, undefined, undefined, undefined]);
  });
});
