import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { agentStartCandidateStatement, type Bmdb, type MachineProvided, type Queries } from '../bmdb/index.ts';
import { waitFor } from '../shepherd/testing/index.ts';
import { describeBmdb, describeBmdbConcurrency } from '../../test/bmdb.ts';
import { ControlLoopRunner, type ControlLoop, type Task } from './index.ts';

const FAST = { intervalMs: 1, burst: 100 };

async function provide(bmdb: Bmdb, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    await bmdb.transact('unittest', async (q) => {
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: 'None', providerId: `p${i}` });
      ids.push(machineId);
    });
  }
  return ids;
}

function loop(processMachine: (task: Task) => Promise<void>): ControlLoop {
  return {
    name: 'test',
    process: 'ShepherdAgentStart',
    processor: 'unittest',
    defaultBackoff: { initialMs: 60_000 },
    getMachines: (q: Queries, limit: number): Promise<MachineProvided[]> => q.getAgentStartCandidates({ provider: 'None', limit }),
    processMachine,
  };
}

async function count(bmdb: Bmdb, sql: string): Promise<number> {
  const r = await bmdb.driver.query(sql, []);
  return Number(r.rows[0]!.n);
}

describeBmdb('control loop runner', ({ open }) => {
  it('processes every candidate machine with the configured parallelism', async () => {
    const bmdb = await open();
    const ids = await provide(bmdb, 6);
    const seen: string[] = [];
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push(chunk.toString());
        done();
      },
    });
    const runner = new ControlLoopRunner(
      bmdb,
      loop(async (task) => {
        seen.push(task.machine.machineId);
        await task.work.finish((q) => q.setAgentStarted({ machineId: task.machine.machineId, publicKey: new Uint8Array(32) }));
      }),
      { dbQueryRate: FAST, parallelism: 3, logger: pino({ level: 'warn' }, sink) },
    );
    const stop = new AbortController();
    assert.equal(runner.state, 'new');
    const running = runner.run(stop.signal);
    assert.equal(runner.state, 'running');
    await waitFor('all machines processed', () => seen.length === ids.length);
    stop.abort();
    await running;
    assert.equal(runner.state, 'stopped');
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.deepEqual(warnings, [], 'finishing work is not reported as a problem');
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM sessions'), 0, 'sessions closed on shutdown');
  });

  it('claims through the loop\'s candidate statement when it has one, each machine once', async () => {
    const bmdb = await open();
    const ids = await provide(bmdb, 6);
    const seen: string[] = [];
    const runner = new ControlLoopRunner(
      bmdb,
      {
        ...loop(async (task) => {
          seen.push(task.machine.machineId);
          await task.work.finish((q) => q.setAgentStarted({ machineId: task.machine.machineId, publicKey: new Uint8Array(32) }, { commits: true }));
        }),
        getMachines: () => Promise.reject(new Error('getMachines is not called when the loop has a candidate statement')),
        candidateStatement: agentStartCandidateStatement({ provider: 'None' }),
      },
      { dbQueryRate: FAST, parallelism: 3, logger: pino({ level: 'warn' }) },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    await waitFor('all machines processed', () => seen.length === ids.length);
    stop.abort();
    await running;
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.equal(await count(bmdb, "SELECT count(*) AS n FROM work_history WHERE event = 'Started'"), ids.length, 'no machine claimed twice');
  });

  it('a failing task fails its work with the task backoff and the error as cause', async () => {
    const bmdb = await open();
    const [id] = await provide(bmdb, 1);
    let calls = 0;
    const runner = new ControlLoopRunner(
      bmdb,
      loop((task) => {
        calls++;
        task.backoff = { initialMs: 120_000 };
        return Promise.reject(new Error('outer', { cause: new Error('the disk is on fire') }));
      }),
      { dbQueryRate: FAST },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    await waitFor('a backoff row', async () => (await count(bmdb, 'SELECT count(*) AS n FROM work_backoff')) === 1);
    stop.abort();
    await running;
    assert.equal(calls, 1, 'the backoff keeps the machine from being retried');
    const r = await bmdb.driver.query('SELECT machine_id, cause, last_interval_seconds FROM work_backoff', []);
    assert.equal(r.rows[0]!.machine_id, id);
    assert.equal(r.rows[0]!.cause, 'outer: the disk is on fire');
    assert.equal(Number(r.rows[0]!.last_interval_seconds), 120);
  });

  it('shutdown lets in-flight work finish within the grace period', async () => {
    const bmdb = await open();
    await provide(bmdb, 1);
    let started = false;
    const runner = new ControlLoopRunner(
      bmdb,
      loop(async (task) => {
        started = true;
        await new Promise((resolve) => setTimeout(resolve, 200));
        await task.work.finish((q) => q.setAgentStarted({ machineId: task.machine.machineId, publicKey: new Uint8Array(32) }));
      }),
      { dbQueryRate: FAST, shutdownGraceMs: 5000 },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    await waitFor('work started', () => started);
    stop.abort();
    assert.equal(runner.state, 'stopping');
    await running;
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM machine_agent_started'), 1);
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM work'), 0);
  });

  it('shutdown leaves no work rows behind when work outlives the grace period', async () => {
    const bmdb = await open();
    await provide(bmdb, 3);
    let started = 0;
    const runner = new ControlLoopRunner(
      bmdb,
      // Ignores its signal on purpose: the runner must still bound the shutdown.
      loop(async () => {
        started++;
        await new Promise(() => {});
      }),
      { dbQueryRate: FAST, parallelism: 3, shutdownGraceMs: 200 },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    await waitFor('three works started', () => started === 3);
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM work'), 3);
    const stopping = Date.now();
    stop.abort();
    await running;
    assert.ok(Date.now() - stopping < 3000, 'shutdown is bounded');
    assert.equal(runner.state, 'stopped');
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM work'), 0);
    assert.equal(await count(bmdb, "SELECT count(*) AS n FROM work_history WHERE event = 'Canceled'"), 3);
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM work_backoff'), 0, 'canceled, not failed');
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM sessions'), 0);
  });
  it('idle, 16 workers share one poller (about one candidate query a second) and pick up a new machine within a second', async (t) => {
    const bmdb = await open();
    let queries = 0;
    let processedAt = 0;
    const base = loop(async (task) => {
      processedAt = performance.now();
      await task.work.finish((q) => q.setAgentStarted({ machineId: task.machine.machineId, publicKey: new Uint8Array(32) }));
    });
    const counting: ControlLoop = {
      ...base,
      getMachines: (q, limit) => {
        queries++;
        return base.getMachines(q, limit);
      },
    };
    const runner = new ControlLoopRunner(bmdb, counting, { dbQueryRate: FAST, parallelism: 16 });
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    // The first round has every worker look once; then the poller settles at its 1 s maximum wait.
    await delay(2500);
    const before = queries;
    await delay(3000);
    const idleQueries = queries - before;
    assert.ok(idleQueries <= 4, `${idleQueries} candidate queries in 3 s of idling with 16 workers`);
    const addedAt = performance.now();
    await provide(bmdb, 1);
    await waitFor('the new machine processed', () => processedAt > 0);
    const reactionMs = processedAt - addedAt;
    t.diagnostic(`idle: ${idleQueries} candidate queries in 3 s; new machine processed after ${Math.round(reactionMs)} ms`);
    assert.ok(reactionMs < 2000, `picked up after ${Math.round(reactionMs)} ms`);
    stop.abort();
    await running;
  });
});

// PostgreSQL only: a connection pool much smaller than the parallelism.
describeBmdbConcurrency('control loop runner with many workers', (open) => {
  it('1000 workers on a pool of 10 connections share one session, stop within the grace and leave no session rows', async () => {
    const bmdb = await open({ maxConnections: 10 });
    await provide(bmdb, 20);
    let started = 0;
    const graceMs = 500;
    const runner = new ControlLoopRunner(
      bmdb,
      // Holds its machine until the hard stop, like a slow takeover.
      loop(async (task) => {
        started++;
        await new Promise((resolve) => task.signal.addEventListener('abort', resolve, { once: true }));
      }),
      { dbQueryRate: { intervalMs: 1, burst: 1000 }, parallelism: 1000, shutdownGraceMs: graceMs },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    try {
      await waitFor('every machine taken', () => started === 20, 30_000);
      assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM sessions'), 1, 'one session for the whole loop');
    } finally {
      stop.abort();
    }
    const stopping = Date.now();
    await running;
    const took = Date.now() - stopping;
    assert.ok(took < graceMs + 2000, `stopping took ${took} ms`);
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM sessions'), 0);
    assert.equal(await count(bmdb, 'SELECT count(*) AS n FROM work'), 0);
  });
});
