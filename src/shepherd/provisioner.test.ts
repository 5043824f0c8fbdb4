import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Bmdb, MachineProvided } from '../bmdb/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { Availability, INVALID_PROVIDER_ID, planReconcile, Provisioner, resolveAvailability, type ProviderMachine } from './index.ts';
import { FakeProvider } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };

function machine(id: string, availability: Availability, failed = false): ProviderMachine {
  return { id, address: '192.0.2.1', availability, failed };
}

function provided(providerId: string): MachineProvided {
  return {
    machineId: `00000000-0000-0000-0000-${providerId.padStart(12, '0')}`,
    provider: 'None',
    providerId,
    providerReservationId: null,
    providerIpAddress: null,
    providerLocation: null,
    providerStatus: null,
    providerRebootable: true,
  };
}

describe('PossiblyUsed resolution', () => {
  const inBmdb = new Set(['known']);
  const table: Array<[string, ProviderMachine, Availability]> = [
    ['possibly used, in the BMDB: used', machine('known', Availability.PossiblyUsed), Availability.KnownUsed],
    ['possibly used, not in the BMDB: unused', machine('stranger', Availability.PossiblyUsed), Availability.KnownUnused],
    ['possibly used with the invalid id: unused', machine(INVALID_PROVIDER_ID, Availability.PossiblyUsed), Availability.KnownUnused],
    ['known used stays used even when not in the BMDB', machine('stranger', Availability.KnownUsed), Availability.KnownUsed],
    ['known unused stays unused even when in the BMDB', machine('known', Availability.KnownUnused), Availability.KnownUnused],
    ['undefined stays undefined', machine('known', Availability.Undefined), Availability.Undefined],
  ];
  for (const [name, m, expected] of table) {
    it(name, () => assert.equal(resolveAvailability(m, inBmdb), expected));
  }
});

describe('reconcile plan', () => {
  const limits = { maxCount: 0, chunkSize: 100 };

  it('an unknown used provider machine refuses all creation', () => {
    const plan = planReconcile([machine('ours', Availability.KnownUsed), machine('free', Availability.KnownUnused)], [], limits);
    assert.deepEqual(plan.toCreate, []);
    assert.deepEqual(plan.missingFromBmdb, ['ours']);
  });

  it('a failed unknown used provider machine does not refuse creation', () => {
    const plan = planReconcile([machine('ours', Availability.KnownUsed, true), machine('free', Availability.KnownUnused)], [], limits);
    assert.deepEqual(plan.toCreate.map((m) => m.id), ['free']);
    assert.deepEqual(plan.missingFromBmdb, []);
  });

  it('a BMDB machine the provider does not list refuses all creation', () => {
    const plan = planReconcile([machine('free', Availability.PossiblyUsed)], [provided('gone')], limits);
    assert.deepEqual(plan.toCreate, []);
    assert.deepEqual(plan.missingFromProvider, ['gone']);
  });

  it('creates at most the chunk size and never past the maximum', () => {
    const many = Array.from({ length: 10 }, (_, i) => machine(`m${i}`, Availability.PossiblyUsed));
    assert.equal(planReconcile(many, [], { maxCount: 0, chunkSize: 4 }).toCreate.length, 4);
    assert.equal(planReconcile(many, [provided('m0'), provided('m1')], { maxCount: 3, chunkSize: 4 }).toCreate.length, 1);
    assert.equal(planReconcile(many, [provided('m0'), provided('m1')], { maxCount: 2, chunkSize: 4 }).toCreate.length, 0);
  });
});

async function providedIds(bmdb: Bmdb): Promise<string[]> {
  return (await bmdb.queries.getProvidedMachines({ provider: 'None' })).map((m) => m.providerId);
}

describeBmdb('provisioner', ({ open }) => {
  it('smoke: max 10, chunk 4 enrols exactly 10 machines, all known to the provider, never more', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    provider.addMachines(25);
    const provisioner = new Provisioner(bmdb, provider, { maxCount: 10, chunkSize: 4, creationRate: FAST, reconcileRate: FAST });
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    const counts: number[] = [];
    for (let round = 0; round < 5; round++) {
      const result = await provisioner.reconcile(session);
      assert.equal(result.desynced, false);
      assert.ok(result.created <= 4, 'at most one chunk per round');
      counts.push((await providedIds(bmdb)).length);
    }
    assert.deepEqual(counts, [4, 8, 10, 10, 10]);
    const ids = await providedIds(bmdb);
    assert.equal(new Set(ids).size, 10);
    for (const id of ids) assert.ok(provider.machines.has(id), `${id} is known to the provider`);
  });

  it('records whether each machine can be rebooted, and follows the provider when that changes', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    provider.addMachines(1, 'bmc', { rebootable: true });
    const [bare] = provider.addMachines(1, 'bare', { rebootable: false });
    const provisioner = new Provisioner(bmdb, provider, { maxCount: 0, chunkSize: 10, creationRate: FAST, reconcileRate: FAST });
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    const rebootable = async () => Object.fromEntries((await bmdb.queries.getProvidedMachines({ provider: 'None' })).map((m) => [m.providerId, m.providerRebootable]));
    await provisioner.reconcile(session);
    assert.deepEqual(await rebootable(), { bmc0: true, bare1: false });
    provider.machines.set(bare!.id, { ...bare!, rebootable: true }); // a BMC was added to the entry
    await provisioner.reconcile(session);
    assert.deepEqual(await rebootable(), { bmc0: true, bare1: true });
  });

  it('desync: an unknown used provider machine stops creation; a failed one does not', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    provider.addMachines(3);
    const [intruder] = provider.addMachines(1, 'used', { availability: Availability.KnownUsed });
    const provisioner = new Provisioner(bmdb, provider, { creationRate: FAST });
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    assert.deepEqual(await provisioner.reconcile(session), { created: 0, desynced: true });
    assert.deepEqual(await providedIds(bmdb), []);
    provider.machines.set(intruder!.id, { ...intruder!, failed: true });
    assert.deepEqual(await provisioner.reconcile(session), { created: 3, desynced: false });
    assert.equal((await providedIds(bmdb)).length, 3);
  });

  it('run enrols machines until stopped and closes its session', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    provider.addMachines(3);
    const provisioner = new Provisioner(bmdb, provider, { creationRate: FAST, reconcileRate: { intervalMs: 20, burst: 1 } });
    const stop = new AbortController();
    const running = provisioner.run(stop.signal);
    for (let i = 0; i < 200 && (await providedIds(bmdb)).length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await running;
    assert.equal((await providedIds(bmdb)).length, 3);
    assert.equal(Number((await bmdb.driver.query('SELECT count(*) AS n FROM sessions', [])).rows[0]!.n), 0);
  });

  it('a machine that cannot be stored does not starve the others: entries 3-5 are enrolled in the same round, entry 2 backs off', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    provider.addMachines(1);
    // The database refuses a NUL in text: this entry's insert fails every time.
    const bad = 'bad\u0000id';
    provider.machines.set(bad, { id: bad, address: '10.0.0.99', availability: Availability.PossiblyUsed, failed: false });
    provider.addMachines(3);
    const provisioner = new Provisioner(bmdb, provider, { creationRate: FAST });
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    const first = await provisioner.reconcile(session);
    assert.deepEqual(first, { created: 4, desynced: false, failed: [bad] });
    assert.deepEqual((await providedIds(bmdb)).sort(), ['m0', 'm2', 'm3', 'm4']);
    // The next round leaves the failing entry alone while it backs off.
    provider.addMachines(1);
    const attempts = provider.created.length;
    assert.deepEqual(await provisioner.reconcile(session), { created: 1, desynced: false });
    assert.equal(provider.created.length, attempts + 1);
  });

  it('a machine another shepherd enrolled between listing and insert is not an error', async () => {
    const bmdb = await open();
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const provider = new FakeProvider();
    provider.addMachines(2);
    const rival = new FakeProvider();
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    // The rival enrols m0 after both listings, just before our insert.
    const createMachine = provider.createMachine.bind(provider);
    provider.createMachine = async (s, request, opts) => {
      if (request.unusedMachine.id === 'm0') await rival.createMachine(s, request);
      return createMachine(s, request, opts);
    };
    const provisioner = new Provisioner(bmdb, provider, { creationRate: FAST, logger });
    assert.deepEqual(await provisioner.reconcile(session), { created: 1, desynced: false });
    assert.deepEqual((await providedIds(bmdb)).sort(), ['m0', 'm1']);
    assert.deepEqual(lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'no warning or error');
    assert.ok(lines.some((l) => l.msg === 'machine was enrolled by someone else meanwhile'));
  });
});
