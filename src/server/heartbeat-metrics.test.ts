import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { describeBmdb } from '../../test/bmdb.ts';
import { callHeartbeat, enrolAgent, useTestServer } from '../../test/agent-harness.ts';
import { clientCertificate, generateAgentKey } from '../agent/agent-identity.ts';
import { HEARTBEAT_REFUSALS } from './metrics.ts';

describeBmdb('agent callback server: heartbeat counters', ({ open }) => {
  const t = useTestServer(open);

  /** bmsrv_heartbeats_total as `result/reason → value`. */
  async function counts(): Promise<Record<string, number>> {
    const values = (await t.srv.metrics.getSingleMetric('bmsrv_heartbeats_total')!.get()).values;
    return Object.fromEntries(values.map((v) => [`${v.labels.result}/${v.labels.reason}`, v.value]));
  }

  it('counts accepted heartbeats and refused ones by reason, every series present from the start', async () => {
    const before = await counts();
    assert.deepEqual(Object.keys(before).sort(), ['accepted/none', ...HEARTBEAT_REFUSALS.map((r) => `refused/${r}`)].sort());

    const { machineId, key } = await enrolAgent(t.bmdb);
    const cert = await clientCertificate(key, machineId);
    await callHeartbeat(t.srv, cert, { machineId });
    await callHeartbeat(t.srv, cert, { machineId });
    const refused = async (client: Awaited<ReturnType<typeof clientCertificate>>, id: string, code: Code) => {
      const err = await callHeartbeat(t.srv, client, { machineId: id }).then(() => assert.fail('accepted'), (e: unknown) => e);
      assert.ok(err instanceof ConnectError && err.code === code, String(err));
    };
    await refused(await clientCertificate(generateAgentKey(), machineId), machineId, Code.Unauthenticated);
    await refused(cert, 'not-a-uuid', Code.InvalidArgument);
    // A first heartbeat while the initializer still holds the takeover.
    const early = (await t.bmdb.transact('unittest', (q) => q.newMachine())).machineId;
    const session = await t.bmdb.startSession({ component: 'initializer', processor: 'unittest' });
    const work = await session.work('ShepherdAgentStart', () => Promise.resolve({ machineId: early }));
    await refused(await clientCertificate(generateAgentKey(), early), early, Code.Unauthenticated);
    await work.cancel();
    await session.close();

    const after = await counts();
    const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, d]) => d !== 0));
    assert.deepEqual(delta, { 'accepted/none': 2, 'refused/unknown-agent': 1, 'refused/invalid': 1, 'refused/takeover-in-progress': 1 });
  });
});
