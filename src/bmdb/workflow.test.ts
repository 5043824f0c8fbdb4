// The agent-start workflow as the shepherd drives it, ported from the
// original's behaviour tests.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { NothingToDoError, WorkConflictError } from './errors.ts';
import type { Queries } from './queries/index.ts';

const agentStart = async (q: Queries) => (await q.getAgentStartCandidates({ provider: 'None', limit: 1 })).map((m) => m.machineId);
const firstAgentStart = async (q: Queries) => (await q.getAgentStartCandidates({ provider: 'None', limit: 1 }))[0];

describeBmdb('agent start workflow', ({ open }) => {
  it('open work hides the machine from agent start and recovery; history is exactly Started, Finished', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const s = await bmdb.startSession({ component: 'initializer', processor: 'unittest' });
    assert.deepEqual(await bmdb.transact('unittest', agentStart), [m]);

    const w = await s.work('ShepherdAgentStart', firstAgentStart);
    assert.equal(w.machineId, m);
    assert.deepEqual(await bmdb.transact('unittest', agentStart), []);
    // Even a machine that looks dead to recovery is hidden while start work is open.
    await bmdb.queries.setAgentStarted({ machineId: m!, startedAt: new Date(Date.now() - 10 * 3600_000), publicKey: new Uint8Array(32) });
    assert.deepEqual(await bmdb.transact('unittest', (q) => q.getRecoveryCandidates({ provider: 'None', limit: 5 })), []);
    await bmdb.queries.deleteAgentStarted({ machineId: m! });

    await w.finish((q) => q.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32).fill(7) }));
    assert.deepEqual(await bmdb.transact('unittest', agentStart), []);
    const history = await bmdb.queries.listHistoryOf({ machineId: m! });
    assert.deepEqual(history.map((h) => [h.process, h.event]), [
      ['ShepherdAgentStart', 'Started'],
      ['ShepherdAgentStart', 'Finished'],
    ]);
    await s.close();
  });

  it('parallel: 6 machines and 3 workers with their own sessions start 6 distinct machines using all 3 workers', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 6);
    const sessions = await Promise.all([0, 1, 2].map((i) => bmdb.startSession({ component: `worker-${i}`, processor: 'unittest' })));
    const done: Array<{ machine: string; worker: number }> = [];
    // Every worker holds its first machine until all three hold one, so the
    // test shows parallel claims rather than one fast worker doing it all.
    let holding = 0;
    let release!: () => void;
    const allHolding = new Promise<void>((r) => (release = r));
    await Promise.all(
      sessions.map(async (s, worker) => {
        let first = true;
        for (;;) {
          let w;
          try {
            w = await s.work('ShepherdAgentStart', firstAgentStart);
          } catch (err) {
            if (err instanceof NothingToDoError) return;
            if (err instanceof WorkConflictError) continue;
            throw err;
          }
          if (first) {
            first = false;
            if (++holding === 3) release();
            await allHolding;
          }
          await w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey: new Uint8Array(32) }));
          done.push({ machine: w.machineId, worker });
        }
      }),
    );
    assert.equal(new Set(done.map((d) => d.machine)).size, 6);
    assert.deepEqual([...new Set(done.map((d) => d.machine))].sort(), [...machines].sort());
    assert.equal(new Set(done.map((d) => d.worker)).size, 3);
    for (const s of sessions) await s.close();
  });
});
