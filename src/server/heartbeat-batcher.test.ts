// The heartbeat batcher on a real BMDB: fewer statements than calls, keys
// checked in the writing statement, no acceptance without a commit, prompt
// shutdown.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { KeyObject } from 'node:crypto';
import type { Bmdb, Queries, Session } from '../bmdb/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { enrolAgent, heartbeatAt } from '../../test/agent-harness.ts';
import { generateAgentKey, rawPublicKey } from '../agent/agent-identity.ts';
import { sleep } from '../lib/sleep.ts';
import { silentLogger } from '../lib/logger.ts';
import { HeartbeatBatcherClosedError } from './errors.ts';
import { HeartbeatBatcher } from './heartbeat-batcher.ts';
import type { Transactor } from './heartbeat.ts';

describeBmdb('heartbeat batcher', ({ open }) => {
  let bmdb: Bmdb;
  let session: Session;
  // Session transactions run, as the server runs them.
  let transactions = 0;
  const transact: Transactor = (fn, o) => {
    transactions++;
    return session.transact(fn, o);
  };
  const claim = (a: { machineId: string; key: KeyObject }) => ({ machineId: a.machineId, publicKey: rawPublicKey(a.key) });

  beforeEach(async () => {
    bmdb = await open();
    session = await bmdb.startSession({ component: 'bmsrv', processor: 'unittest' });
    transactions = 0;
  });
  afterEach(async () => {
    await session.close();
  });

  it('writes concurrent heartbeats in fewer statements than calls, each learning its own result', async () => {
    const agents = await Promise.all(Array.from({ length: 30 }, () => enrolAgent(bmdb)));
    const batcher = new HeartbeatBatcher({ transact, logger: silentLogger() });
    const results = await Promise.all(agents.map((a) => batcher.submit(claim(a))));
    assert.ok(results.every((r, i) => r?.machineId === agents[i]!.machineId));
    for (const a of agents) assert.ok(await heartbeatAt(bmdb, a.machineId), 'heartbeat recorded');
    assert.ok(batcher.batches <= 2, `${batcher.batches} batches for 30 calls`);
    assert.equal(transactions, batcher.batches);
  });

  it('returns the pending installation request with the accepted heartbeat', async () => {
    const a = await enrolAgent(bmdb);
    await bmdb.transact('unittest', (q: Queries) => q.setOsInstallationRequest({ machineId: a.machineId, generation: 3, raw: new Uint8Array([8, 3]) }));
    const batcher = new HeartbeatBatcher({ transact, logger: silentLogger() });
    const r = await batcher.submit(claim(a));
    assert.equal(r?.pending?.generation, 3);
    assert.deepEqual([...r.pending.raw], [8, 3]);
  });

  it('refuses a revoked or replaced key on the very next call, in the same batch as accepted ones', async () => {
    const [removed, replaced, kept] = await Promise.all([enrolAgent(bmdb), enrolAgent(bmdb), enrolAgent(bmdb)]);
    const batcher = new HeartbeatBatcher({ transact, logger: silentLogger() });
    await Promise.all([removed!, replaced!, kept!].map((a) => batcher.submit(claim(a))));
    const newKey = generateAgentKey();
    await bmdb.transact('unittest', async (q) => {
      await q.deleteAgentStarted({ machineId: removed!.machineId });
      await q.setAgentStarted({ machineId: replaced!.machineId, publicKey: rawPublicKey(newKey) });
    });
    const before = { removed: await heartbeatAt(bmdb, removed!.machineId), replaced: await heartbeatAt(bmdb, replaced!.machineId) };
    const batches = batcher.batches;
    const [r1, r2, r3, r4, r5] = await Promise.all([
      batcher.submit(claim(removed!)),
      batcher.submit(claim(replaced!)),
      batcher.submit(claim(kept!)),
      batcher.submit({ machineId: replaced!.machineId, publicKey: rawPublicKey(newKey) }),
      batcher.submit(claim(kept!)), // the same claim twice in one batch
    ]);
    assert.equal(batcher.batches, batches + 1, 'all five in one statement');
    assert.equal(r1, undefined, 'removed AgentStarted');
    assert.equal(r2, undefined, 'replaced key');
    assert.equal(r3?.machineId, kept!.machineId);
    assert.equal(r4?.machineId, replaced!.machineId, 'the new key is accepted');
    assert.equal(r5?.machineId, kept!.machineId);
    assert.deepEqual(await heartbeatAt(bmdb, removed!.machineId), before.removed, 'nothing written for the removed key');
    assert.ok((await heartbeatAt(bmdb, replaced!.machineId))! > before.replaced!, 'written once, for the new key');
  });

  it('fails every call of a batch whose transaction fails, and writes none of it', async () => {
    const agents = await Promise.all(Array.from({ length: 5 }, () => enrolAgent(bmdb)));
    // The statement runs, then the transaction fails before its commit.
    const failing: Transactor = (fn, o) =>
      transact(async (q) => {
        await fn(q);
        throw new Error('connection lost before commit');
      }, o);
    const batcher = new HeartbeatBatcher({ transact: failing, logger: silentLogger() });
    const results = await Promise.allSettled(agents.map((a) => batcher.submit(claim(a))));
    for (const r of results) assert.equal(r.status, 'rejected');
    for (const a of agents) assert.equal(await heartbeatAt(bmdb, a.machineId), undefined, 'rolled back');
  });

  it('close() writes the heartbeats already waiting, then refuses new ones', async () => {
    const agents = await Promise.all(Array.from({ length: 10 }, () => enrolAgent(bmdb)));
    const batcher = new HeartbeatBatcher({ transact, logger: silentLogger() });
    const pending = agents.map((a) => batcher.submit(claim(a)));
    await batcher.close();
    for (const r of await Promise.all(pending)) assert.ok(r, 'accepted');
    await assert.rejects(batcher.submit(claim(agents[0]!)), HeartbeatBatcherClosedError);
  });

  it('the shutdown signal fails waiting and in-flight calls at once', async () => {
    const agents = await Promise.all(Array.from({ length: 6 }, () => enrolAgent(bmdb)));
    const shutdown = new AbortController();
    // A database that takes a minute per batch; the batch's signal cuts it short.
    const slow: Transactor = async (fn, o) => {
      await sleep(60_000, o.signal);
      o.signal?.throwIfAborted();
      return transact(fn, o);
    };
    const batcher = new HeartbeatBatcher({ transact: slow, logger: silentLogger(), maxInFlight: 1, signal: shutdown.signal });
    const first = batcher.submit(claim(agents[0]!));
    await sleep(20); // the first batch is being written, the rest wait
    const rest = agents.slice(1).map((a) => batcher.submit(claim(a)));
    const started = performance.now();
    shutdown.abort(new Error('server shutdown'));
    const results = await Promise.allSettled([first, ...rest]);
    await batcher.close();
    assert.ok(performance.now() - started < 1000, 'promptly');
    for (const r of results) assert.equal(r.status, 'rejected');
    for (const a of agents) assert.equal(await heartbeatAt(bmdb, a.machineId), undefined);
    await assert.rejects(batcher.submit(claim(agents[0]!)), HeartbeatBatcherClosedError);
  });

  it('a call whose own signal aborts while it waits leaves the batch', async () => {
    const [a, b] = await Promise.all([enrolAgent(bmdb), enrolAgent(bmdb)]);
    const batcher = new HeartbeatBatcher({ transact, logger: silentLogger() });
    const gone = new AbortController();
    const first = batcher.submit(claim(a!), { signal: gone.signal });
    const second = batcher.submit(claim(b!));
    gone.abort(new Error('deadline'));
    await assert.rejects(first, /deadline/);
    assert.ok(await second);
    assert.equal(await heartbeatAt(bmdb, a!.machineId), undefined, 'left before its batch was written');
  });
});
