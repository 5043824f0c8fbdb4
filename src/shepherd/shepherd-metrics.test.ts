import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { seriesOf } from '../scruffy/testing/fleet.ts';
import { PowerActionNotConfirmedError, powerMetrics, timePowerAction } from './bmc/index.ts';
import { Initializer, Provisioner, Recoverer, StormGuard } from './index.ts';
import { stepLabel } from './shepherd-metrics.ts';
import { FakeProvider, FakeSshClient, waitFor } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };

/** Sum of a histogram's _count series whose labels include `match`. */
async function observations(registry: Registry, name: string, match: Record<string, string>): Promise<number> {
  const values = (await registry.getSingleMetric(name)!.get()).values;
  return values
    .filter((v) => (v as { metricName?: string }).metricName === `${name}_count` && Object.entries(match).every(([k, want]) => v.labels[k] === want))
    .reduce((n, v) => n + v.value, 0);
}

describeBmdb('shepherd metrics', ({ open }) => {
  it('time takeovers and candidate queries, and count recoveries by outcome and escalation step', async () => {
    const bmdb = await open();
    const registry = new Registry();
    const provider = new FakeProvider();
    provider.addMachines(3);
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    await new Provisioner(bmdb, provider, { maxCount: 0, creationRate: FAST }).reconcile(session);

    const ssh = new FakeSshClient();
    const init = new Initializer({ provider, sshClient: ssh, sshUser: 'root', sshAuth: { password: 'secret' }, agentExecutablePath: '/opt/bmaas/agent', agentEndpoint: 'bmsrv.example:443', metricsRegistry: registry });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, init, { dbQueryRate: FAST, metricsRegistry: registry }).run(stop.signal);
    await waitFor('three takeovers', async () => (await observations(registry, 'bmaas_initializer_takeover_duration_seconds', { result: 'success' })) === 3, 20_000);
    await waitFor('an empty candidate query', async () => (await observations(registry, 'bmaas_controlloop_candidate_query_duration_seconds', { loop: 'initializer', result: 'none' })) > 0, 20_000);
    stop.abort();
    await running;
    assert.equal(await observations(registry, 'bmaas_controlloop_candidate_query_duration_seconds', { loop: 'initializer', result: 'found' }), 3);
    assert.deepEqual(await seriesOf(registry, 'bmaas_controlloop_claim_conflicts_total'), { [JSON.stringify({ loop: 'initializer' })]: 0 });

    // Every agent went silent long ago (the storm guard, which would cap the reboots, is off):
    // one reboot works, three machines vanished from the provider.
    await bmdb.transact('unittest', async (q) => {
      await q.db.query(`UPDATE machine_agent_started SET agent_started_at = now() - interval '10 hours'`);
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: 'None', providerId: 'vanished' });
      await q.setAgentStarted({ machineId, startedAt: new Date(Date.now() - 3600_000), publicKey: new Uint8Array(32) });
    });
    provider.machines.delete([...provider.machines.keys()][1]!);
    provider.machines.delete([...provider.machines.keys()][1]!);
    const stop2 = new AbortController();
    const recovering = new ControlLoopRunner(bmdb, new Recoverer({ provider, metricsRegistry: registry, stormGuard: new StormGuard({ options: { enabled: false }, metricsRegistry: registry }) }), { dbQueryRate: FAST, metricsRegistry: registry }).run(stop2.signal);
    const recoveries = () => seriesOf(registry, 'bmaas_recoverer_recoveries_total');
    const key = (outcome: string, step: string) => JSON.stringify({ outcome, step });
    await waitFor('one reboot and three failures', async () => {
      const r = await recoveries();
      return r[key('rebooted', '0')] === 1 && r[key('failed', '0')] === 3;
    }, 20_000);
    stop2.abort();
    await recovering;
    const r = await recoveries();
    assert.equal(r[key('quarantined', 'none')], 0);
    assert.equal(r[key('rebooted', '2+')], 0, 'every step is present from the start');
  });
});

it('stepLabel keeps the escalation step bounded', () => {
  assert.deepEqual([-1, 0, 1, 2, 7].map(stepLabel), ['0', '0', '1', '2+', '2+']);
});

it('timePowerAction observes the duration by driver, action and result, and rethrows', async () => {
  const registry = new Registry();
  const metrics = powerMetrics(registry);
  assert.equal(powerMetrics(registry), metrics, 'one set per registry');
  assert.equal(await timePowerAction(metrics, { driver: 'redfish', action: 'GracefulRestart' }, () => Promise.resolve(42)), 42);
  await assert.rejects(timePowerAction(metrics, { driver: 'ipmi', action: 'PowerCycle' }, () => Promise.reject(new PowerActionNotConfirmedError('never off', ['On']))));
  await assert.rejects(timePowerAction(metrics, { driver: 'ipmi', action: 'PowerCycle' }, () => Promise.reject(new Error('boom'))));
  const aborted = AbortSignal.abort();
  await assert.rejects(timePowerAction(metrics, { driver: 'redfish', action: 'ForceRestart' }, () => Promise.reject(aborted.reason as Error), aborted));
  const n = (labels: Record<string, string>) => observations(registry, 'bmaas_bmc_power_action_duration_seconds', labels);
  assert.equal(await n({ driver: 'redfish', action: 'GracefulRestart', result: 'ok' }), 1);
  assert.equal(await n({ driver: 'ipmi', result: 'not-confirmed' }), 1);
  assert.equal(await n({ driver: 'ipmi', result: 'error' }), 1);
  assert.equal(await n({ driver: 'redfish', result: 'aborted' }), 1);
});
