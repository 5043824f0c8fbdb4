import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeRedfishBmc } from '../../../sim/redfish-bmc.ts';
import { PowerStateUnreadableError } from '../../bmc/index.ts';
import { canRecover, ProviderMachineNotFoundError, ProviderOperationNotSupportedError } from '../../provider.ts';
import { rebootStep } from './bmc-reboot.ts';
import { parseDeviceList } from './device-list.ts';
import { MiniProvider, powerStateToStatus } from './mini-provider.ts';

const PASSWORD = 'mini-reboot-test-password';

async function withFleet(fn: (provider: MiniProvider, bmc: FakeRedfishBmc) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bmaas-mini-reboot-'));
  const bmc = await new FakeRedfishBmc({ username: 'admin', password: PASSWORD, resetDelayMs: 100, offMs: 100 }).start();
  const passwordFile = join(dir, 'node-1.pass');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const list = [
    { ID: 'node-1', Addr: '127.0.0.1:2201', BMC: { Driver: 'redfish', Endpoint: bmc.endpoint, Username: 'admin', PasswordFile: passwordFile, TLS: { Fingerprint: bmc.certificate.fingerprint } } },
    { ID: 'node-2', Addr: '127.0.0.1:2202' },
  ];
  const provider = MiniProvider.fromDevices({ deviceListUrl: 'test', checkedPower: { pollIntervalMs: 20, confirmTimeoutMs: 5000 } }, parseDeviceList(JSON.stringify(list), 'test'));
  try {
    await fn(provider, bmc);
  } finally {
    await provider.close();
    await bmc.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('mini provider: reboots through the BMC', () => {
  it('climbs the ladder: GracefulRestart, ForceRestart, then ForceOff and On', () =>
    withFleet(async (provider, bmc) => {
      assert.ok(canRecover(provider));
      assert.equal(provider.canReboot('node-1'), true);
      assert.equal(provider.canReboot('node-2'), false);
      await provider.rebootMachine('node-1');
      await provider.rebootMachine('node-1', { attempt: 1 });
      await provider.rebootMachine('node-1', { attempt: 2 });
      await provider.rebootMachine('node-1', { attempt: 7 });
      assert.deepEqual(bmc.resets.map((r) => r.resetType), ['GracefulRestart', 'ForceRestart', 'ForceOff', 'On', 'ForceOff', 'On']);
      assert.equal(bmc.powerState(), 'On');
      assert.equal(bmc.leakedSessions, 0);
    }));

  it('refuses entries without a BMC and unknown ids, and does nothing on an unknown power state', () =>
    withFleet(async (provider, bmc) => {
      await assert.rejects(provider.rebootMachine('node-2'), ProviderOperationNotSupportedError);
      await assert.rejects(provider.rebootMachine('node-9'), ProviderMachineNotFoundError);
      bmc.reportedPowerState = null;
      await assert.rejects(provider.rebootMachine('node-1'), PowerStateUnreadableError);
      assert.deepEqual(bmc.resets, []);
    }));

  it('reports the power state as the provider status', () =>
    withFleet(async (provider, bmc) => {
      assert.equal(await provider.providerStatus('node-1'), 'Running');
      assert.equal(await provider.providerStatus('node-2'), undefined);
      bmc.reportedPowerState = 'Off';
      assert.equal(await provider.providerStatus('node-1'), 'Stopped');
      bmc.reportedPowerState = 'Blinking';
      assert.equal(await provider.providerStatus('node-1'), 'Unknown');
      assert.deepEqual((['On', 'Off', 'PoweringOn', 'PoweringOff', 'Unknown'] as const).map(powerStateToStatus), ['Running', 'Stopped', 'Unknown', 'Unknown', 'Unknown']);
      assert.deepEqual([0, 1, 2, 3].map(rebootStep), ['GracefulRestart', 'ForceRestart', 'PowerCycle', 'PowerCycle']);
    }));
});
