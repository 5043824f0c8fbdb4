import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { create, toBinary } from '@bufbuild/protobuf';
import { describeBmdb } from '../../test/bmdb.ts';
import { callHeartbeat, enrolAgent, heartbeatAt as heartbeatTime, type HeartbeatInit, useTestServer } from '../../test/agent-harness.ts';
import { clientCertificate, generateAgentKey, rawPublicKey } from '../agent/agent-identity.ts';
import type { CallbackClientOptions } from '../agent/callback-client.ts';
import { AgentAuthenticationError } from './errors.ts';
import { recordHeartbeat } from './heartbeat.ts';
import type { HeartbeatBatcher } from './heartbeat-batcher.ts';
import type { Queries } from '../bmdb/index.ts';
import { createCertificate, toPem } from '../lib/index.ts';
import {
  AgentHardwareReportSchema,
  AgentHeartbeatRequestSchema,
  OSInstallationProgressSchema,
  OSInstallationProgress_Stage,
  OSInstallationRequestSchema,
  decodeMessage,
  type AgentHeartbeatRequest,
} from '../proto/index.ts';

describeBmdb('agent callback server', ({ open }) => {
  const t = useTestServer(open);

  const call = (client: Omit<CallbackClientOptions, 'endpoint' | 'caCertificate'>, req: HeartbeatInit) => callHeartbeat(t.srv, client, req);

  async function refused(client: Omit<CallbackClientOptions, 'endpoint' | 'caCertificate'>, req: HeartbeatInit, code: Code): Promise<ConnectError> {
    const err = await call(client, req).then(
      () => assert.fail('heartbeat was accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }

  const heartbeatAt = (machineId: string) => heartbeatTime(t.bmdb, machineId);

  it('accepts a heartbeat after AgentStarted with the agent key and records its time', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    assert.equal(await heartbeatAt(machineId), undefined);
    const res = await call(await clientCertificate(key, machineId), { machineId });
    assert.equal(res.installationRequest, undefined);
    assert.ok(await heartbeatAt(machineId));
  });

  it('refuses an unknown machine and a wrong key with the same UNAUTHENTICATED message', async () => {
    const { machineId } = await enrolAgent(t.bmdb);
    const other = generateAgentKey();
    const wrongKey = await refused(await clientCertificate(other, machineId), { machineId }, Code.Unauthenticated);
    const unknown = await refused(await clientCertificate(other, machineId), { machineId: '00000000-0000-4000-8000-000000000000' }, Code.Unauthenticated);
    assert.equal(wrongKey.rawMessage, unknown.rawMessage);
    assert.equal(await heartbeatAt(machineId), undefined);
  });

  it('refuses a heartbeat that beats its own takeover the same way, but tells the log it is expected', async () => {
    const key = generateAgentKey();
    const machineId = (await t.bmdb.transact('unittest', (q) => q.newMachine())).machineId;
    const s = await t.bmdb.startSession({ component: 'initializer', processor: 'unittest' });
    const w = await s.work('ShepherdAgentStart', () => Promise.resolve({ machineId: machineId }));
    const early = await refused(await clientCertificate(key, machineId), { machineId }, Code.Unauthenticated);
    const unknown = await refused(await clientCertificate(key, machineId), { machineId: '00000000-0000-4000-8000-000000000000' }, Code.Unauthenticated);
    assert.equal(early.rawMessage, unknown.rawMessage, 'the agent learns nothing more');
    const direct = (held: boolean) =>
      recordHeartbeat({ transact: (fn, o) => t.bmdb.transact('unittest', fn, o) }, { request: create(AgentHeartbeatRequestSchema, { machineId }), publicKey: rawPublicKey(key) }).then(
        () => assert.fail(`accepted (work held: ${held})`),
        (err: unknown) => {
          assert.ok(err instanceof AgentAuthenticationError);
          assert.equal(err.takeoverInProgress, held);
        },
      );
    await direct(true);
    await w.cancel();
    await direct(false);
    await s.close();
  });

  it('takes a refusal whose takeover finished before the refusal was explained for the same benign race', async () => {
    // The batch's key check ran before the shepherd's finish committed; the
    // explanation reads after it: no work held any more, and the key matches.
    const { machineId, key } = await enrolAgent(t.bmdb);
    const staleBatcher = { submit: () => Promise.resolve(null) } as unknown as HeartbeatBatcher;
    const store = { transact: <T,>(fn: (q: Queries) => Promise<T>, o: { signal?: AbortSignal }) => t.bmdb.transact('unittest', fn, o), batcher: staleBatcher };
    const err = await recordHeartbeat(store, { request: create(AgentHeartbeatRequestSchema, { machineId }), publicKey: rawPublicKey(key) }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AgentAuthenticationError);
    assert.equal(err.takeoverInProgress, true);
    assert.match(err.reason, /takeover just finished/);
    // A key that matches nothing is still a stranger's.
    const stranger = await recordHeartbeat(store, { request: create(AgentHeartbeatRequestSchema, { machineId }), publicKey: rawPublicKey(generateAgentKey()) }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(stranger instanceof AgentAuthenticationError);
    assert.equal(stranger.takeoverInProgress, false);
  });

  it('refuses a call without a client certificate', async () => {
    const { machineId } = await enrolAgent(t.bmdb);
    await refused({}, { machineId }, Code.Unauthenticated);
  });

  it('refuses an RSA client certificate', async () => {
    const { machineId } = await enrolAgent(t.bmdb);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = toPem(await createCertificate({ subject: { commonName: machineId }, publicKey: rsa.publicKey, signingKey: rsa.privateKey, clientAuth: true }), 'CERTIFICATE');
    await refused({ cert, key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, { machineId }, Code.Unauthenticated);
  });

  it('refuses two client certificates even when the leaf carries the enrolled key', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    const ca = generateKeyPairSync('ed25519');
    const caName = { commonName: 'some CA' };
    const caPem = toPem(await createCertificate({ subject: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true }), 'CERTIFICATE');
    const own = await clientCertificate(key, machineId);
    const { createPublicKey } = await import('node:crypto');
    const leafPem = toPem(await createCertificate({ subject: { commonName: machineId }, publicKey: createPublicKey(key), signingKey: ca.privateKey, issuer: caName, issuerPublicKey: ca.publicKey, clientAuth: true }), 'CERTIFICATE');
    await refused({ cert: leafPem + caPem, key: own.key }, { machineId }, Code.Unauthenticated);
  });

  it('answers INVALID_ARGUMENT for a machine id that is not a UUID', async () => {
    const key = generateAgentKey();
    await refused(await clientCertificate(key, 'x'), { machineId: 'not-a-uuid' }, Code.InvalidArgument);
  });

  it('returns a pending installation request until a report of the same generation arrives', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    const cert = await clientCertificate(key, machineId);
    const request = (generation: bigint) =>
      toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation, type: { case: 'metropolis', value: { bundleUrl: 'https://example.test/b', rootDevice: 'sda' } } }));
    await t.bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId, generation: 123, raw: request(123n) }));
    for (let i = 0; i < 3; i++) {
      const res = await call(cert, { machineId });
      assert.equal(res.installationRequest?.generation, 123n);
      assert.equal(res.installationRequest.type.case, 'metropolis');
      assert.equal(res.installationRequest.type.value?.bundleUrl, 'https://example.test/b');
    }
    const reported = await call(cert, { machineId, installationReport: { generation: 123n, result: { case: 'success', value: {} } } });
    assert.equal(reported.installationRequest, undefined);
    assert.equal((await call(cert, { machineId })).installationRequest, undefined);
    const row = await t.bmdb.driver.query('SELECT generation, os_installation_result FROM machine_os_installation_report WHERE machine_id = $1', [machineId]);
    assert.equal(Number(row.rows[0]!.generation), 123);
    assert.equal(row.rows[0]!.os_installation_result, 'Success');

    await t.bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId, generation: 234, raw: request(234n) }));
    assert.equal((await call(cert, { machineId })).installationRequest?.generation, 234n);
    await call(cert, { machineId, installationReport: { generation: 234n, result: { case: 'error', value: { error: 'disk on fire' } } } });
    const err = await t.bmdb.driver.query('SELECT os_installation_result FROM machine_os_installation_report WHERE machine_id = $1', [machineId]);
    assert.equal(err.rows[0]!.os_installation_result, 'Error');
  });

  it('stores the progress an agent sends while installing, and the pending request still comes back', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    const cert = await clientCertificate(key, machineId);
    const raw = toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation: 3n, type: { case: 'image', value: { url: 'https://example.test/os.img', sha256: new Uint8Array(32), targetDevice: '/dev/sda' } } }));
    await t.bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId, generation: 3, raw }));
    const progress = async () => {
      const r = await t.bmdb.driver.query('SELECT generation, os_installation_progress_raw FROM machine_os_installation_progress WHERE machine_id = $1', [machineId]);
      return r.rows[0] ? { generation: Number(r.rows[0].generation), p: decodeMessage(OSInstallationProgressSchema, new Uint8Array(r.rows[0].os_installation_progress_raw as Uint8Array)) } : undefined;
    };
    for (const done of [1024n, 4096n]) {
      const res = await call(cert, { machineId, installationProgress: { generation: 3n, stage: OSInstallationProgress_Stage.WRITING, bytesDone: done, bytesTotal: 8192n } });
      assert.equal(res.installationRequest?.type.case, 'image');
      const stored = await progress();
      assert.deepEqual([stored?.generation, stored?.p.bytesDone, stored?.p.stage], [3, done, OSInstallationProgress_Stage.WRITING]);
    }
    assert.ok(await heartbeatAt(machineId));
  });

  it('stores the hardware report so that it decodes to what was sent, and does not store an empty one', async () => {
    const { machineId, key } = await enrolAgent(t.bmdb);
    const cert = await clientCertificate(key, machineId);
    const stored = async () => {
      const r = await t.bmdb.driver.query('SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1', [machineId]);
      return r.rows[0] ? new Uint8Array(r.rows[0].hardware_report_raw as Uint8Array) : undefined;
    };
    await call(cert, { machineId, hardwareReport: {} });
    assert.equal(await stored(), undefined);
    const sent: AgentHeartbeatRequest['hardwareReport'] = create(AgentHardwareReportSchema, {
      report: {
        manufacturer: 'ACME',
        product: 'Rack 9000',
        serialNumber: 'SN1',
        memoryInstalledBytes: 68719476736n,
        memoryUsableRatio: 0.5, // exact in float32
        cpu: [{ architecture: { case: 'x8664', value: { family: 25, model: 1, stepping: 1 } }, cores: 16, hardwareThreads: 32, vendor: 'AuthenticAMD', model: 'EPYC' }],
        blockDevice: [{ deviceModel: 'SSD', serialNumber: 'S1', capacityBytes: 1000204886016n, logicalBlockSizeBytes: 512, physicalBlockSizeBytes: 4096, protocol: 3 }],
        networkInterface: [{ mac: new Uint8Array([2, 0, 0, 0, 0, 1]), driver: 'ixgbe', linkUp: true, currentSpeedBytes: 1250000000n }],
      },
      warning: ['dmi: product_serial: permission denied'],
    });
    await call(cert, { machineId, hardwareReport: sent });
    const raw = await stored();
    assert.ok(raw);
    assert.deepEqual(decodeMessage(AgentHardwareReportSchema, raw), sent);
    // An empty report afterwards leaves the stored one alone.
    await call(cert, { machineId, hardwareReport: {} });
    assert.deepEqual(await stored(), raw);
  });

  it('counts calls by gRPC code', async () => {
    const text = await t.srv.metrics.metrics();
    assert.match(text, /bmsrv_calls_total\{method="Heartbeat",code="OK"\} \d+/);
    assert.match(text, /bmsrv_calls_total\{method="Heartbeat",code="UNAUTHENTICATED"\} \d+/);
  });
});
