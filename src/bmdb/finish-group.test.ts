// Group finishes (finish-group.ts): finishes made at the same time share one
// transaction, and a group that cannot commit leaves each finish to run
// alone, with the outcome it would have had without the group.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, describeBmdbConcurrency, provideMachines } from '../../test/bmdb.ts';
import { NothingToDoError, WorkConflictError, WorkLostError } from './errors.ts';
import { agentStartCandidateStatement } from './queries/index.ts';
import { isRetryable } from './retry.ts';
import type { Bmdb, Session, Work } from './index.ts';

const publicKey = new Uint8Array(32);

async function claimAll(s: Session, machines: readonly string[]): Promise<Work[]> {
  return Promise.all(machines.map((m) => s.work('ShepherdAgentStart', async () => ({ machineId: m }))));
}

async function transactions(bmdb: Bmdb): Promise<number> {
  return (await bmdb.metrics.transactionExecuted.get()).values.reduce((n, v) => n + v.value, 0);
}

async function started(bmdb: Bmdb): Promise<string[]> {
  return (await bmdb.driver.query<{ machine_id: string }>('SELECT machine_id FROM machine_agent_started ORDER BY machine_id')).rows.map((r) => r.machine_id);
}

async function events(bmdb: Bmdb, machineId: string): Promise<string[]> {
  return (await bmdb.queries.listHistoryOf({ machineId })).map((h) => h.event);
}

describeBmdb('group finishes', ({ open }) => {
  it('finishes made at the same time commit in one transaction, each with its own writes', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 6);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const works = await claimAll(s, machines);
    // One of them with a backoff to clear, one with no function at all.
    await bmdb.driver.query(`INSERT INTO work_backoff (machine_id, process, until, cause) VALUES ($1, 'ShepherdAgentStart', now(), 'x')`, [machines[0]]);
    const before = await transactions(bmdb);
    // Each caller's signal includes its work's, as a runner's does: it aborts when the work ends.
    await Promise.all(works.map((w, i) => (i === 5 ? w.finish(undefined, { signal: w.signal }) : w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true }), { signal: w.signal }))));
    assert.equal((await transactions(bmdb)) - before, 1);
    assert.deepEqual(works.map((w) => w.state), Array(6).fill('finished'));
    assert.deepEqual(await started(bmdb), machines.slice(0, 5).sort());
    assert.equal((await bmdb.driver.query('SELECT * FROM work')).rowCount, 0);
    assert.equal((await bmdb.driver.query('SELECT * FROM work_backoff')).rowCount, 0);
    for (const m of machines) assert.deepEqual(await events(bmdb, m), ['Started', 'Finished']);
    await s.close();
  });

  it('a group with a lost work writes nothing; then each finish runs alone: the lost one fails, the rest finish', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 4);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const works = await claimAll(s, machines);
    await bmdb.driver.query(`DELETE FROM work WHERE machine_id = $1`, [machines[2]]);
    const settled = await Promise.allSettled(works.map((w) => w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true }), { signal: w.signal })));
    assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.ok((settled[2] as PromiseRejectedResult).reason instanceof WorkLostError);
    assert.equal(works[2]!.state, 'open');
    assert.deepEqual(await started(bmdb), [machines[0]!, machines[1]!, machines[3]!].sort());
    assert.deepEqual(await events(bmdb, machines[2]!), ['Started']);
    for (const m of [machines[0]!, machines[1]!, machines[3]!]) assert.deepEqual(await events(bmdb, m), ['Started', 'Finished']);
    await s.close();
  });

  it('a function that throws rolls the group back; alone, its own finish fails and writes nothing, the others finish', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 3);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const works = await claimAll(s, machines);
    let runs = 0;
    const settled = await Promise.allSettled(
      works.map((w, i) =>
        w.finish(async (q) => {
          await q.setAgentStarted({ machineId: w.machineId, publicKey });
          if (i === 1) {
            runs++;
            throw new Error('the finish changed its mind');
          }
        }),
      ),
    );
    assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((settled[1] as PromiseRejectedResult).reason.message, 'the finish changed its mind');
    assert.equal(runs, 2, 'once in the group, once alone');
    assert.equal(works[1]!.state, 'open');
    assert.deepEqual(await started(bmdb), [machines[0]!, machines[2]!].sort());
    assert.deepEqual(await events(bmdb, machines[1]!), ['Started']);
    // Still held: it can be given up as usual.
    await works[1]!.cancel();
    assert.deepEqual(await events(bmdb, machines[1]!), ['Started', 'Canceled']);
    await s.close();
  });

  it('a finish whose caller stops waiting while its group is out is rejected at once, and its work is marked finished when the group commits', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 3);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const works = await claimAll(s, machines);
    const gone = new AbortController();
    const finishing = works.map((w, i) =>
      w
        .finish(
          async (q) => {
            // The group is out: its functions run. This caller gives up now.
            if (i === 1) gone.abort(new Error('caller gave up'));
            await q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true });
          },
          i === 1 ? { signal: gone.signal } : {},
        )
        .then(
          () => 'finished',
          (err: unknown) => (err as Error).message,
        ),
    );
    assert.deepEqual(await Promise.all(finishing), ['finished', 'caller gave up', 'finished']);
    await s.close();
    assert.deepEqual(works.map((w) => w.state), Array(3).fill('finished'));
    assert.deepEqual(await started(bmdb), [...machines].sort());
  });

  it('a finish whose function reads a result first still shares the group, and close waits for finishes asked for', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 3);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const works = await claimAll(s, machines);
    const finishing = works.map((w) =>
      w.finish(async (q) => {
        const r = await q.db.query<{ n: number }>('SELECT count(*)::int AS n FROM work WHERE session_id = $1', [s.sessionId]);
        assert.equal(r.rows[0]!.n, 0, 'the group ended every work before the functions see a result');
        await q.setAgentStarted({ machineId: w.machineId, publicKey });
      }),
    );
    await s.close();
    await Promise.all(finishing);
    assert.deepEqual(works.map((w) => w.state), Array(3).fill('finished'));
    assert.deepEqual(await started(bmdb), [...machines].sort());
  });
});

describeBmdbConcurrency('group finishes under concurrency', (open) => {
  it('4 sessions x 8 workers with grouped claims and finishes, works lost meanwhile: every machine finished exactly once, lost finishes write nothing', async (t) => {
    const bmdb = await open({ maxConnections: 40 });
    const machines = await provideMachines(bmdb, 400);
    const sessions = await Promise.all(Array.from({ length: 4 }, (_, i) => bmdb.startSession({ component: `s${i}`, processor: 'unittest' })));
    const candidate = agentStartCandidateStatement({ provider: 'None' });
    let lost = 0;
    let finished = 0;
    // Now and then a work row disappears under its holder (as when a session's work is collected).
    const stop = new AbortController();
    const thief = (async () => {
      while (!stop.signal.aborted) {
        await bmdb.driver.query(`DELETE FROM work WHERE ctid IN (SELECT ctid FROM work ORDER BY random() LIMIT 1)`);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(
      sessions.flatMap((s) =>
        Array.from({ length: 8 }, async () => {
          for (;;) {
            try {
              const w = await s.claim('ShepherdAgentStart', candidate);
              try {
                await w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true }));
                finished++;
              } catch (err) {
                if (!(err instanceof WorkLostError)) throw err;
                lost++;
              }
            } catch (err) {
              if (err instanceof NothingToDoError) return;
              if (err instanceof WorkConflictError || isRetryable(err)) continue;
              throw err;
            }
          }
        }),
      ),
    );
    stop.abort();
    await thief;
    for (const s of sessions) await s.close();
    t.diagnostic(`finished ${finished}, lost ${lost}`);
    assert.equal(finished, machines.length);
    assert.ok(lost > 0, 'no work was lost: the test did not test the fallback');
    assert.deepEqual(await started(bmdb), [...machines].sort());
    const twice = await bmdb.driver.query(`SELECT machine_id FROM work_history WHERE event = 'Finished' GROUP BY machine_id HAVING count(*) > 1`);
    assert.equal(twice.rowCount, 0);
    const counts = await bmdb.driver.query<{ n: number }>(`SELECT count(*)::int AS n FROM work_history WHERE event = 'Finished'`);
    assert.equal(counts.rows[0]!.n, machines.length);
  });
});
