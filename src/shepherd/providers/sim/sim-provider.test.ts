import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Availability, ProviderMachineNotFoundError } from '../../provider.ts';
import { SimProvider } from './sim-provider.ts';

describe('sim provider', () => {
  const rebooted: string[] = [];
  const provider = new SimProvider({
    list: () => [
      { id: 'sim-0001', address: '127.0.0.1:2201', location: 'sim-rack-1' },
      { id: 'sim-0002', address: '127.0.0.1:2202', location: 'sim-rack-1' },
    ],
    reboot: (id) => {
      rebooted.push(id);
      return Promise.resolve();
    },
  });

  it('lists every simulated machine as possibly used, with its address and location', async () => {
    const machines = await provider.listMachines();
    assert.deepEqual(machines.map((m) => [m.id, m.address, m.availability, m.location]), [
      ['sim-0001', '127.0.0.1:2201', Availability.PossiblyUsed, 'sim-rack-1'],
      ['sim-0002', '127.0.0.1:2202', Availability.PossiblyUsed, 'sim-rack-1'],
    ]);
    assert.equal(provider.type, 'Sim');
  });

  it('reboots known machines and refuses unknown ones', async () => {
    await provider.rebootMachine('sim-0002');
    assert.deepEqual(rebooted, ['sim-0002']);
    await assert.rejects(provider.rebootMachine('sim-9999'), ProviderMachineNotFoundError);
    await assert.rejects(provider.getMachine('nope'), ProviderMachineNotFoundError);
  });
});
