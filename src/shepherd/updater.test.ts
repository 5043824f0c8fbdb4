import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { SessionKeeper, type Bmdb, type ProviderStatus } from '../bmdb/index.ts';
import { ProviderMachineNotFoundError } from './provider.ts';
import { FakeProvider } from './testing/index.ts';
import { canReportStatus, Updater } from './updater.ts';

/** A fake provider that reports the status the test sets, counting reads. */
class StatusFake extends FakeProvider {
  readonly status = new Map<string, ProviderStatus | Error | undefined>();
  readonly reads: string[] = [];
  providerStatus(id: string): Promise<ProviderStatus | undefined> {
    this.reads.push(id);
    const s = this.status.get(id);
    return s instanceof Error ? Promise.reject(s) : Promise.resolve(s);
  }
}

async function statuses(bmdb: Bmdb): Promise<Record<string, string | null>> {
  const machines = await bmdb.transact('unittest', (q) => q.getProvidedMachines({ provider: 'None' }));
  return Object.fromEntries(machines.map((m) => [m.providerId, m.providerStatus]));
}

describeBmdb('updater', ({ open }) => {
  it('maps what the provider reports into the Provided tag and rechecks changed machines every minute, settled ones every 30', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 4);
    const provider = new StatusFake();
    assert.ok(canReportStatus(provider));
    provider.status.set('p-0', 'Running');
    provider.status.set('p-1', 'Stopped');
    provider.status.set('p-2', new Error('BMC unreachable'));
    provider.status.set('p-3', new ProviderMachineNotFoundError('fake', 'p-3'));
    let now = 1_000_000;
    const updater = new Updater(bmdb, provider, { now: () => now, rate: { intervalMs: 1, burst: 100 } });
    await using keeper = new SessionKeeper(bmdb, { component: 'test', processor: 'shepherd-updater', logger: pino({ level: 'silent' }) });

    assert.equal(await updater.round(keeper), 4);
    assert.deepEqual(await statuses(bmdb), { 'p-0': 'Running', 'p-1': 'Stopped', 'p-2': 'Unknown', 'p-3': 'Missing' });

    // Everything just changed: nothing is due before a minute has passed.
    now += 59_000;
    assert.equal(await updater.round(keeper), 0);
    now += 1_000;
    provider.reads.length = 0;
    provider.status.set('p-2', 'Running');
    assert.equal(await updater.round(keeper), 4);
    assert.equal((await statuses(bmdb))['p-2'], 'Running');

    // p-0, p-1 and p-3 are settled now (same status twice); p-2 changed again.
    now += 60_000;
    provider.reads.length = 0;
    await updater.round(keeper);
    assert.deepEqual(provider.reads, ['p-2']);
    // p-2 settles after that read; then nobody is due until the 30 minutes are up.
    now += 60_000;
    provider.reads.length = 0;
    assert.equal(await updater.round(keeper), 0);
    now += 30 * 60_000;
    assert.equal(await updater.round(keeper), 4);
  });

  it('leaves the stored status alone when the provider cannot tell, and keeps to its rate limit', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 3);
    const provider = new StatusFake();
    const now = 0;
    const updater = new Updater(bmdb, provider, { now: () => now, rate: { intervalMs: 60_000, burst: 2 } });
    await using keeper = new SessionKeeper(bmdb, { component: 'test', processor: 'shepherd-updater', logger: pino({ level: 'silent' }) });
    const stopped = new AbortController();
    const round = updater.round(keeper, stopped.signal);
    // Two tokens: the third read waits for the bucket, which a fake clock never refills.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(provider.reads.length, 2);
    stopped.abort();
    assert.equal(await round, 2);
    assert.deepEqual(await statuses(bmdb), { 'p-0': null, 'p-1': null, 'p-2': null });
  });
});
