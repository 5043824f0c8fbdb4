// The recovery guards on real PostgreSQL, with short thresholds: the test
// plays the fleet's heartbeats itself (one statement per beat), so an outage
// of the callback server is simply a pause of that pump.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import type { Bmdb, RecoveryThresholds } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { describeBmdbConcurrency } from '../../test/bmdb.ts';
import { Initializer, Recoverer, StormGuard, type StormGuardOptions } from './index.ts';
import { FakeProvider, FakeSshClient, waitFor } from './testing/index.ts';

const FAST = { intervalMs: 1, burst: 1000 };
const THRESHOLDS: RecoveryThresholds = { noHeartbeatAfterStartSeconds: 1, silenceSeconds: 2 };
const GUARD: StormGuardOptions = { heartbeatIntervalMs: 500, minMachines: 5, threshold: 0.1, maxReboots: { kind: 'count', count: 4, windowMs: 60_000 } };

async function count(bmdb: Bmdb, sql: string): Promise<number> {
  return Number((await bmdb.driver.query(`SELECT count(*)::int AS n FROM (${sql}) x`, [])).rows[0]!.n);
}

/**
 * `n` provided machines with a started agent (started `startedSecondsAgo`
 * ago, default now) that just heartbeated, or never did with `heartbeat:
 * false`; returns their ids.
 */
async function startedFleet(bmdb: Bmdb, provider: FakeProvider, n: number, o: { heartbeat?: boolean; startedSecondsAgo?: number } = {}): Promise<string[]> {
  const machines = provider.addMachines(n);
  const startedAt = o.startedSecondsAgo === undefined ? undefined : new Date(Date.now() - o.startedSecondsAgo * 1000);
  return bmdb.transact('unittest', async (q) => {
    const ids: string[] = [];
    for (const [i, m] of machines.entries()) {
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: 'None', providerId: m.id });
      await q.setAgentStarted({ machineId, publicKey: new Uint8Array(32).fill(i), ...(startedAt ? { startedAt } : {}) });
      if (o.heartbeat ?? true) await q.setAgentHeartbeat({ machineId });
      ids.push(machineId);
    }
    return ids;
  });
}

/** Heartbeats every machine of `alive` (whose agent is still recorded) every 150 ms while `on`. */
function pump(bmdb: Bmdb, alive: Set<string>, signal: AbortSignal): { on: boolean; done: Promise<void> } {
  const state = { on: true, done: Promise.resolve() };
  state.done = (async () => {
    while (!signal.aborted) {
      if (state.on) await bmdb.driver.query('UPDATE machine_agent_heartbeat SET agent_heartbeat_at = now() WHERE machine_id = ANY($1::uuid[])', [[...alive]]);
      await delay(150);
    }
  })();
  return state;
}

/** A recoverer instance: its own storm guard (checking in the background) and runner. */
function shepherd(
  bmdb: Bmdb,
  provider: FakeProvider,
  signal: AbortSignal,
  extra: { guard?: StormGuardOptions; maxAttempts?: number; thresholds?: RecoveryThresholds } = {},
): { guard: StormGuard; done: Promise<void> } {
  const thresholds = extra.thresholds ?? THRESHOLDS;
  const guard = new StormGuard({ options: extra.guard ?? GUARD, thresholds, metricsRegistry: new Registry() });
  const loop = new Recoverer({ provider, thresholds, stormGuard: guard, ...(extra.maxAttempts ? { maxAttempts: extra.maxAttempts } : {}) });
  const runner = new ControlLoopRunner(bmdb, loop, { dbQueryRate: FAST, parallelism: 3, shutdownGraceMs: 1000 });
  return { guard, done: Promise.all([runner.run(signal), guard.run(bmdb, signal)]).then(() => {}) };
}

describeBmdbConcurrency('recovery guards', (open) => {
  it('an outage of all heartbeats longer than the silence threshold reboots nobody, shows the pause, and recovery resumes after it', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const ids = await startedFleet(bmdb, provider, 50);
    const alive = new Set(ids);
    const stop = new AbortController();
    const beats = pump(bmdb, alive, stop.signal);
    const s = shepherd(bmdb, provider, stop.signal);
    try {
      await delay(1000);
      beats.on = false;
      await waitFor('the pause', async () => (await bmdb.queries.getStormGuard()).reason === 'no-heartbeats', 5000);
      assert.equal(s.guard.pause?.reason, 'no-heartbeats');
      await delay(4500); // well past the silence threshold (2 s) and the "recently silent" window
      assert.deepEqual(provider.reboots, []);
      beats.on = true;
      await waitFor('the pause to lift', async () => (await bmdb.queries.getStormGuard()).reason === null, 5000);
      await delay(1500);
      assert.deepEqual(provider.reboots, [], 'machines silent only during the pause are not rebooted');
      assert.equal(s.guard.pause, undefined);
      // Recovery works again: one machine dies for real.
      alive.delete(ids[7]!);
      await waitFor('the dead machine to be rebooted', () => provider.reboots.length === 1, 10_000);
      assert.deepEqual(provider.reboots, [[...provider.machines.keys()][7]]);
    } finally {
      stop.abort();
      await Promise.all([beats.done, s.done]);
    }
  });

  it('a mass silence of 30 % reboots no more than the cap, counted across two shepherd instances', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const ids = await startedFleet(bmdb, provider, 50);
    const alive = new Set(ids.slice(15));
    const stop = new AbortController();
    const beats = pump(bmdb, alive, stop.signal);
    const a = shepherd(bmdb, provider, stop.signal);
    const b = shepherd(bmdb, provider, stop.signal);
    try {
      await waitFor('the mass-silence pause', () => a.guard.pause?.reason === 'mass-silence' || b.guard.pause?.reason === 'mass-silence', 5000);
      assert.deepEqual(provider.reboots, []);
      // Once the 15 are no longer "recently" silent, the cap takes over.
      await waitFor('reboots up to the cap', () => provider.reboots.length >= 4, 10_000);
      await delay(2000);
      assert.equal(provider.reboots.length, 4);
      assert.equal(await count(bmdb, 'SELECT 1 FROM recovery_reboots'), 4);
      assert.equal(await count(bmdb, "SELECT 1 FROM work_history WHERE process = 'ShepherdRecovery' AND event = 'Finished'"), 4);
      assert.equal((await bmdb.queries.getStormGuard()).reason, 'reboot-cap');
    } finally {
      stop.abort();
      await Promise.all([beats.done, a.done, b.done]);
    }
  });

  // An outage that begins right after the takeovers, before the first heartbeats:
  // a started agent that never heartbeated counts as silent from its start plus
  // the no-heartbeat threshold.
  it('agents that never heartbeated after their start count for the mass-silence rule (30 % of 50)', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    // A longer silence window (5 s) than the other tests, so that the overdue agents stay "recently silent" for a while.
    const thresholds: RecoveryThresholds = { noHeartbeatAfterStartSeconds: 1, silenceSeconds: 5 };
    const alive = new Set(await startedFleet(bmdb, provider, 35));
    await startedFleet(bmdb, provider, 15, { heartbeat: false, startedSecondsAgo: 2 });
    const stop = new AbortController();
    const beats = pump(bmdb, alive, stop.signal);
    const s = shepherd(bmdb, provider, stop.signal, { thresholds });
    try {
      await waitFor('a pause or a reboot', async () => provider.reboots.length > 0 || (await bmdb.queries.getStormGuard()).reason === 'mass-silence', 3000);
      await delay(1500);
      assert.equal(provider.reboots.length, 0, 'no reboot while 15 of 50 agents are overdue at once');
      assert.equal(s.guard.pause?.reason, 'mass-silence');
      assert.match(s.guard.pause!.detail, /^15 of 50 started machines went silent recently/);
    } finally {
      stop.abort();
      await Promise.all([beats.done, s.done]);
    }
  });

  it('started agents of which none ever heartbeated pause recovery as no-heartbeats, but a fresh fleet and a single overdue machine do not', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const guard = (t: RecoveryThresholds) => new StormGuard({ options: GUARD, thresholds: t, metricsRegistry: new Registry() });
    // Freshly enrolled: 20 agents started a second ago, none heartbeated yet, all within the start threshold.
    await startedFleet(bmdb, provider, 20, { heartbeat: false, startedSecondsAgo: 1 });
    assert.equal(await guard({ noHeartbeatAfterStartSeconds: 30, silenceSeconds: 2 }).check(bmdb), undefined);
    // A single machine overdue long ago (beyond the "recently silent" window) is still recovered.
    await startedFleet(bmdb, provider, 1, { heartbeat: false, startedSecondsAgo: 60 });
    assert.equal(await guard({ noHeartbeatAfterStartSeconds: 30, silenceSeconds: 2 }).check(bmdb), undefined);
    // 30 more agents started a minute ago, none ever heartbeated: the callback server is unreachable.
    await startedFleet(bmdb, provider, 30, { heartbeat: false, startedSecondsAgo: 60 });
    const stop = new AbortController();
    const s = shepherd(bmdb, provider, stop.signal, { thresholds: { noHeartbeatAfterStartSeconds: 30, silenceSeconds: 2 } });
    try {
      await waitFor('a pause or a reboot', async () => provider.reboots.length > 0 || (await bmdb.queries.getStormGuard()).reason === 'no-heartbeats', 3000);
      await delay(1500);
      assert.equal(provider.reboots.length, 0, 'no reboot while no agent has ever reached the callback server');
      assert.equal(s.guard.pause?.reason, 'no-heartbeats');
      assert.match(s.guard.pause!.detail, /^no heartbeat in the last 0\.75 s from any of 31 started machines that should have heartbeated/);
    } finally {
      stop.abort();
      await s.done;
    }
  });

  it('a machine that never recovers is rebooted exactly max-attempts times, then quarantined and left alone', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const [dead] = await startedFleet(bmdb, provider, 1);
    const stop = new AbortController();
    // Plays the initializer: the agent is started again after each reboot but never heartbeats.
    const restarts = (async () => {
      while (!stop.signal.aborted) {
        await bmdb.driver.query(
          `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
           SELECT $1, now(), '\\x00'::bytea || decode(repeat('00', 31), 'hex') WHERE NOT EXISTS (SELECT 1 FROM machine_quarantined WHERE machine_id = $1)
           ON CONFLICT (machine_id) DO NOTHING`,
          [dead],
        );
        await delay(100);
      }
    })();
    const s = shepherd(bmdb, provider, stop.signal, { maxAttempts: 3 });
    try {
      await waitFor('the quarantine', async () => (await bmdb.queries.getQuarantine({ machineId: dead! })) !== undefined, 20_000);
      await delay(2500);
      assert.equal(provider.reboots.length, 3);
      const q = await bmdb.queries.getQuarantine({ machineId: dead! });
      assert.equal(q?.by, 'shepherd');
      assert.match(q!.reason, /^3 reboots without a heartbeat in between; last: silent agent, rebooted at .* \| .* \| /);
      assert.deepEqual(await bmdb.queries.getRecoveryCandidates({ provider: 'None', limit: 5 }), []);
      // Released, it is recovered again (its counters start from zero).
      await bmdb.transact('unittest', (tx) => tx.releaseMachine({ machineId: dead!, by: 'operator' }));
      await waitFor('a reboot after the release', () => provider.reboots.length === 4, 10_000);
    } finally {
      stop.abort();
      await Promise.all([restarts, s.done]);
    }
  });

  it('the initializer quarantines a machine after max-attempts failed agent starts in a row', async () => {
    const bmdb = await open();
    const provider = new FakeProvider();
    const [machineId] = await bmdb.transact('unittest', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'unknown-to-the-provider' });
      return [m.machineId];
    });
    const loop = new Initializer({
      provider,
      sshClient: new FakeSshClient(),
      sshUser: 'root',
      sshAuth: { password: 'secret' },
      agentExecutablePath: '/opt/bmaas/agent',
      agentEndpoint: 'bmsrv.example:443',
      backoff: { initialMs: 1000 },
      maxAttempts: 2,
    });
    const stop = new AbortController();
    const running = new ControlLoopRunner(bmdb, loop, { dbQueryRate: FAST }).run(stop.signal);
    try {
      await waitFor('the quarantine', async () => (await bmdb.queries.getQuarantine({ machineId: machineId! })) !== undefined, 10_000);
      const q = await bmdb.queries.getQuarantine({ machineId: machineId! });
      assert.match(q!.reason, /^2 failed agent starts in a row; last: .*unknown-to-the-provider.* \| /);
      await delay(1500);
      assert.equal(await count(bmdb, "SELECT 1 FROM work_history WHERE process = 'ShepherdAgentStart' AND event = 'Failed'"), 2);
    } finally {
      stop.abort();
      await running;
    }
  });
});
