// Session.claim: the claim made in one statement around a candidate statement.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { describeBmdb, describeBmdbConcurrency, provideMachines, startHangableSession } from '../../test/bmdb.ts';
import { NothingToDoError, SessionExpiredError, WorkConflictError } from './errors.ts';
import { agentStartCandidateStatement, type CandidateStatement } from './queries/index.ts';

const agentStart = agentStartCandidateStatement({ provider: 'None' });
const publicKey = new Uint8Array(32);

describeBmdb('claim in one statement', ({ open }) => {
  it('claims each agent start candidate once, writes Started, and reports nothing to do when none is left', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 3);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const held = await s.claim('ShepherdAgentStart', agentStart);
    const claimed = new Set([held.machineId]);
    for (let i = 0; i < 2; i++) {
      const w = await s.claim('ShepherdAgentStart', agentStart);
      assert.equal(w.row.provider, 'None');
      claimed.add(w.machineId);
      await w.finish((q) => q.setAgentStarted({ machineId: w.machineId, publicKey }, { commits: true }));
    }
    assert.deepEqual([...claimed].sort(), [...machines].sort());
    // The held one is no candidate while held; once canceled it is again.
    await assert.rejects(s.claim('ShepherdAgentStart', agentStart), NothingToDoError);
    await held.cancel();
    const again = await s.claim('ShepherdAgentStart', agentStart);
    assert.equal(again.machineId, held.machineId);
    assert.equal(again.previousBackoff, null);
    await again.cancel();
    const events = (await bmdb.queries.listHistoryOf({ machineId: held.machineId })).map((h) => h.event);
    assert.deepEqual(events, ['Started', 'Canceled', 'Started', 'Canceled']);
    await s.close();
  });

  it('claims made at the same time go out together: one machine each, nothing to do for the rest, and an abandoned claim releases its machine', async () => {
    const bmdb = await open();
    const machines = await provideMachines(bmdb, 5);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const gone = new AbortController();
    const claims = Array.from({ length: 8 }, (_, i) => s.claim('ShepherdAgentStart', agentStart, i === 0 ? { signal: gone.signal } : {}).then((w) => w, (err: unknown) => err));
    // The first claim's group is out already; its caller stops waiting.
    gone.abort(new Error('caller gave up'));
    const settled = await Promise.all(claims);
    assert.equal((settled[0] as Error).message, 'caller gave up');
    const works = settled.filter((x) => x && typeof x === 'object' && 'machineId' in x) as { machineId: string; cancel(): Promise<void> }[];
    const nothing = settled.filter((x) => x instanceof NothingToDoError);
    assert.equal(works.length + nothing.length, 7);
    assert.equal(new Set(works.map((w) => w.machineId)).size, works.length);
    // Every machine is held once, or was released by the abandoned claim and is a candidate again.
    for (let i = 0; i < 50 && (await bmdb.driver.query('SELECT 1 FROM work')).rowCount !== works.length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await bmdb.driver.query('SELECT 1 FROM work')).rowCount, works.length);
    const rest = [];
    for (;;) {
      try {
        rest.push(await s.claim('ShepherdAgentStart', agentStart));
      } catch (err) {
        if (err instanceof NothingToDoError) break;
        throw err;
      }
    }
    assert.deepEqual([...works, ...rest].map((w) => w.machineId).sort(), [...machines].sort());
    await s.close();
  });

  it('a dead session claims nothing and learns it', async () => {
    const bmdb = await open();
    await provideMachines(bmdb, 1);
    const { session: s, hang } = await startHangableSession(bmdb, { component: 'a', processor: 'unittest' });
    hang();
    await bmdb.driver.query(`UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_id = $1`, [s.sessionId]);
    await assert.rejects(s.claim('ShepherdAgentStart', agentStart), SessionExpiredError);
    assert.equal(s.expired, true);
    assert.equal((await bmdb.driver.query('SELECT * FROM work')).rowCount, 0);
    await s.close();
  });

  it('reads the backoff in force when the work was taken', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    await bmdb.driver.query(`INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds) VALUES ($1, 'ShepherdAgentStart', now() - interval '1 minute', 'earlier', 7)`, [m]);
    const s = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const w = await s.claim('ShepherdAgentStart', agentStart);
    assert.equal(w.previousBackoff?.cause, 'earlier');
    assert.equal(w.previousBackoff?.lastIntervalSeconds, 7);
    await w.cancel();
    await s.close();
  });
});

describeBmdbConcurrency('claim in one statement, stale views', (open) => {
  it('a claim whose snapshot predates another session claiming and finishing the machine is refused', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const url = bmdb.options.url;
    // A candidate statement that waits on an advisory lock after the
    // statement's snapshot was taken and the machine was judged a candidate
    // in it (the clauses are read in that snapshot, whatever their order).
    const gate: CandidateStatement<{ machineId: string }> = {
      sql: `SELECT mp.machine_id FROM machine_provided mp
  WHERE NOT EXISTS (SELECT 1 FROM work w WHERE w.machine_id = mp.machine_id AND w.process = 'ShepherdAgentStart')
    AND NOT EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id)
    AND (SELECT true FROM (SELECT pg_advisory_xact_lock(4201)) AS waited)
  LIMIT 1 FOR UPDATE OF mp SKIP LOCKED`,
      params: [],
      row: (r) => ({ machineId: r.machine_id as string }),
    };
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(4201)');
    const a = await bmdb.startSession({ component: 'a', processor: 'unittest' });
    const b = await bmdb.startSession({ component: 'b', processor: 'unittest' });
    // Settled into a value at once: the refusal may come before the assertion below is reached.
    const claimA = a.claim('ShepherdAgentStart', gate).then(() => undefined, (err: unknown) => err);
    // A's statement is waiting once it shows up in pg_locks as not granted.
    for (;;) {
      const r = await holder.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
      if (r.rowCount) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const w = await b.work('ShepherdAgentStart', async () => ({ machineId: m! }));
    await w.finish((q) => q.setAgentStarted({ machineId: m!, publicKey }));
    await holder.query('SELECT pg_advisory_unlock(4201)');
    // READ COMMITTED: the check with its own snapshot refuses. SERIALIZABLE:
    // a serialization failure, and the retry finds nothing to do.
    const refusal = await claimA;
    assert.ok(refusal instanceof WorkConflictError || refusal instanceof NothingToDoError, `refused: ${String(refusal)}`);
    const events = (await bmdb.queries.listHistoryOf({ machineId: m! })).map((h) => h.event);
    assert.deepEqual(events, ['Started', 'Finished']);
    await holder.end();
    await a.close();
    await b.close();
  });
});
