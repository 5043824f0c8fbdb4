// Garbage where a protobuf message belongs, sent as raw gRPC frames over a real
// HTTP/2 + TLS connection: the server must answer INVALID_ARGUMENT, not INTERNAL.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { describeBmdb } from '../../test/bmdb.ts';
import { enrolAgent, useTestServer } from '../../test/agent-harness.ts';
import { clientCertificate } from '../agent/agent-identity.ts';
import { toPem } from '../lib/x509/index.ts';
import { AgentHeartbeatRequestSchema, heartbeatMethodPath } from '../proto/index.ts';

interface RawAnswer {
  readonly status: string | undefined;
  readonly message: string;
}

/** One gRPC call with `payload` as the message bytes, framed by hand. */
async function rawCall(endpoint: string, ca: Buffer, cert: { cert: string; key: string }, payload: Uint8Array): Promise<RawAnswer> {
  const session = http2.connect(`https://${endpoint}`, { ca: toPem(ca, 'CERTIFICATE'), cert: cert.cert, key: cert.key, servername: 'localhost' });
  try {
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    const stream = session.request({ ':method': 'POST', ':path': heartbeatMethodPath, 'content-type': 'application/grpc+proto', te: 'trailers' });
    stream.end(frame);
    const fields: Record<string, string | string[] | undefined> = {};
    stream.on('response', (headers) => Object.assign(fields, headers));
    stream.on('trailers', (trailers) => Object.assign(fields, trailers));
    stream.resume();
    await new Promise<void>((resolve, reject) => {
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    const status = fields['grpc-status'];
    return { status: typeof status === 'string' ? status : undefined, message: decodeURIComponent(String(fields['grpc-message'] ?? '')) };
  } finally {
    session.close();
  }
}

describeBmdb('agent callback server: undecodable requests', ({ open }) => {
  const t = useTestServer(open);

  it('answers garbage protobuf with INVALID_ARGUMENT over a real connection, and counts it', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    const cert = await clientCertificate(key, machineId);
    const valid = await rawCall(t.srv.endpoint, t.srv.caCertificate, cert, toBinary(AgentHeartbeatRequestSchema, create(AgentHeartbeatRequestSchema, { machineId })));
    assert.equal(valid.status, '0', `the hand-made frame is right: ${valid.message}`);
    const garbage = [
      [0xff, 0xff, 0xff, 0xff, 0xff], // a tag varint that never ends
      [0x0a, 0x7f, 0x61], // a string longer than the message
      [0x0a, 0x02, 0xff, 0xfe], // machine_id that is not UTF-8
      [0x0f], // wire type 7
    ];
    for (const bytes of garbage) {
      const answer = await rawCall(t.srv.endpoint, t.srv.caCertificate, cert, new Uint8Array(bytes));
      assert.equal(answer.status, String(Code.InvalidArgument), `${Buffer.from(bytes).toString('hex')}: ${answer.status} ${answer.message}`);
      assert.match(answer.message, /^the request could not be decoded: parse binary: /);
    }
    // Without a client certificate the garbage is refused the same way: decoding comes first.
    assert.equal((await rawCall(t.srv.endpoint, t.srv.caCertificate, { cert: '', key: '' }, new Uint8Array([0xff]))).status, String(Code.InvalidArgument));
    assert.match(await t.srv.metrics.metrics(), /bmsrv_calls_total\{method="Heartbeat",code="INVALID_ARGUMENT"\} 5/);
  });
});
