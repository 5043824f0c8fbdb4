import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Bmdb } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { Recoverer } from './index.ts';
import { FakeProvider, waitFor } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };

async function rows(bmdb: Bmdb, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await bmdb.driver.query(sql, [])).rows;
}

describeBmdb('recoverer', ({ open }) => {
  it('smoke: an agent started 10 h ago that never heartbeated is rebooted once, its tags cleared, and it is an agent start candidate again', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const [dead, healthy] = provider.addMachines(2);
    const ids = await bmdb.transact('unittest', async (q) => {
      const out: string[] = [];
      for (const m of [dead!, healthy!]) {
        const { machineId } = await q.newMachine();
        await q.addProvided({ machineId, provider: 'None', providerId: m.id });
        out.push(machineId);
      }
      await q.setAgentStarted({ machineId: out[0]!, startedAt: new Date(Date.now() - 10 * 3600_000), publicKey: new Uint8Array(32) });
      await q.setAgentStarted({ machineId: out[1]!, publicKey: new Uint8Array(32).fill(1) });
      await q.setAgentHeartbeat({ machineId: out[1]! });
      return out;
    });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, new Recoverer({ provider }), { dbQueryRate: FAST }).run(stop.signal);
    await waitFor('a reboot', () => provider.reboots.length >= 1);
    // Give a second reboot a chance to happen wrongly before stopping.
    await new Promise((r) => setTimeout(r, 300));
    stop.abort();
    await running;
    assert.deepEqual(provider.reboots, [dead!.id]);
    assert.deepEqual((await rows(bmdb, 'SELECT machine_id FROM machine_agent_started')).map((r) => r.machine_id), [ids[1]]);
    assert.deepEqual((await rows(bmdb, 'SELECT machine_id FROM machine_agent_heartbeat')).map((r) => r.machine_id), [ids[1]]);
    const candidates = await bmdb.queries.getAgentStartCandidates({ provider: 'None', limit: 10 });
    assert.deepEqual(candidates.map((c) => c.machineId), [ids[0]]);
    assert.equal((await rows(bmdb, "SELECT 1 FROM work_history WHERE process = 'ShepherdRecovery' AND event = 'Finished'")).length, 1);
  });

  it('a failed reboot backs the machine off with the recoverer default', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    await bmdb.transact('unittest', async (q) => {
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: 'None', providerId: 'vanished' });
      await q.setAgentStarted({ machineId, startedAt: new Date(Date.now() - 3600_000), publicKey: new Uint8Array(32) });
    });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, new Recoverer({ provider }), { dbQueryRate: FAST }).run(stop.signal);
    await waitFor('a backoff', async () => (await rows(bmdb, 'SELECT 1 FROM work_backoff')).length === 1);
    stop.abort();
    await running;
    const [row] = await rows(bmdb, 'SELECT process, cause, last_interval_seconds FROM work_backoff');
    assert.equal(row!.process, 'ShepherdRecovery');
    assert.equal(Number(row!.last_interval_seconds), 60);
    assert.match(String(row!.cause), /has no machine "vanished"/);
    assert.equal((await rows(bmdb, 'SELECT 1 FROM machine_agent_started')).length, 1, 'tags kept when the reboot failed');
  });
});
