// The claim race that SKIP LOCKED alone does not exclude, played out step by
// step on a real PostgreSQL: session A's retrieval reads the machine as a
// candidate, then session B claims and ends the same work before A claims it.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { describeBmdbConcurrency, provideMachines } from '../../test/bmdb.ts';
import { NothingToDoError, WorkConflictError } from './errors.ts';
import type { Queries } from './queries/index.ts';

// Agent-start candidacy without a row lock, so B can take the machine while A still holds its view.
const unlockedCandidate = async (q: Queries) => {
  const r = await q.db.query(
    `SELECT mp.machine_id FROM machine_provided mp
     WHERE NOT EXISTS (SELECT 1 FROM work w WHERE w.machine_id = mp.machine_id AND w.process = 'ShepherdAgentStart')
       AND NOT EXISTS (SELECT 1 FROM machine_agent_started a WHERE a.machine_id = mp.machine_id)
     LIMIT 1`,
  );
  return r.rows.length ? { machineId: r.rows[0]!.machine_id as string } : undefined;
};

const lostRace = (err: unknown) => err instanceof WorkConflictError || err instanceof NothingToDoError;

describeBmdbConcurrency('stale claims', (open) => {
  it('a claim whose retrieval predates another session claiming and finishing the machine is refused', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const b = await bmdb.startSession({ component: 'b', processor: 'unittest' });
    const seen = Promise.withResolvers<void>();
    const finishedByB = Promise.withResolvers<void>();
    const claimA = a.work('ShepherdAgentStart', async (q) => {
      const row = await unlockedCandidate(q);
      seen.resolve();
      await finishedByB.promise;
      return row;
    });
    await seen.promise;
    const w = await b.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    await w.finish((q) => q.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32) }));
    finishedByB.resolve();
    // READ COMMITTED: a StaleClaimError. SERIALIZABLE: a serialization failure, and the retry finds nothing to do.
    await assert.rejects(claimA, lostRace);
    const events = (await bmdb.queries.listHistoryOf({ machineId: m! })).map((h) => h.event);
    assert.deepEqual(events, ['Started', 'Finished']);
    await a.close();
    await b.close();
  });

  it('a claim while another session is ending the same work is refused, not queued behind the end', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const b = await bmdb.startSession({ component: 'b', processor: 'unittest' });
    const w = await b.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    const seen = Promise.withResolvers<void>();
    const claimed = Promise.withResolvers<void>();
    let claimA: Promise<unknown> | undefined;
    // B's end statement has run (its delete is not committed yet) when A's
    // retrieval and claim run; A's retrieval insists on the machine although it
    // sees B's lock, as a careless retrieval function might. The claim must
    // not wait for B's end and then take the machine B just finished.
    const finishB = w.finish(async (q) => {
      if (!claimA) {
        let first = true;
        claimA = a.work('ShepherdAgentStart', async (aq) => {
          const row = await unlockedCandidate(aq);
          seen.resolve();
          // The first time, insist on the machine (as a retrieval from an older view would); a retry asks afresh.
          if (first) {
            first = false;
            return row ?? { machineId: m! };
          }
          return row;
        });
        claimA.then(() => claimed.resolve(), () => claimed.resolve());
      }
      await seen.promise;
      // Let A's claim statement run while B's transaction is open (bounded, in case it waits on B).
      await Promise.race([claimed.promise, delay(1000)]);
      await q.setAgentStarted({ machineId: m!, publicKey: new Uint8Array(32) });
    });
    await finishB;
    await assert.rejects(claimA!, lostRace);
    const events = (await bmdb.queries.listHistoryOf({ machineId: m! })).map((h) => h.event);
    assert.deepEqual(events, ['Started', 'Finished']);
    await a.close();
    await b.close();
  });

  it('a refused claim rolls back what a writing retrieval wrote (retrieveWrites), and keeps it without', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await bmdb.driver.query('CREATE TABLE retrieval_marks (mark text)');
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const b = await bmdb.startSession({ component: 'b', processor: 'unittest' });
    const held = await a.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    const marking = (mark: string) => async (q: Queries) => {
      await q.db.query('INSERT INTO retrieval_marks (mark) VALUES ($1)', [mark]);
      return { machineId: m! };
    };
    await assert.rejects(b.work('ShepherdAgentStart', marking('rolled back'), { retrieveWrites: true }), WorkConflictError);
    // Without the option the claim commits with its statement: the documented trade for one round trip.
    await assert.rejects(b.work('ShepherdAgentStart', marking('committed')), WorkConflictError);
    const marks = (await bmdb.driver.query('SELECT mark FROM retrieval_marks ORDER BY mark')).rows.map((r) => r.mark as string);
    assert.deepEqual(marks, ['committed']);
    await held.cancel();
    // A successful claim keeps the writes either way.
    const w = await b.work('ShepherdAgentStart', marking('claimed'), { retrieveWrites: true });
    await w.cancel();
    const after = (await bmdb.driver.query('SELECT mark FROM retrieval_marks ORDER BY mark')).rows.map((r) => r.mark as string);
    assert.deepEqual(after, ['claimed', 'committed']);
    await a.close();
    await b.close();
  });
});
