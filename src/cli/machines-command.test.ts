import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBmdb } from '../bmdb/index.ts';
import { runMachines } from './testing/run-machines.ts';

const run = (url: string, ...argv: string[]) => runMachines(...argv, '--bmdb-url', url);

describe('bmaas machines', () => {
  let dir: string;
  let url: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-machines-'));
    url = `pglite://${dir}`;
    const bmdb = await openBmdb({ url, migrate: true });
    await bmdb.transact('unittest', async (q) => {
      for (let i = 0; i < 3; i++) {
        const m = await q.newMachine();
        await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: `node-${i}` });
        if (i < 2) await q.setAgentStarted({ machineId: m.machineId, publicKey: new Uint8Array(32) });
      }
    });
    await bmdb.close();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('selects in bulk by filters, lists in --dry-run and changes nothing', async () => {
    const dry = await run(url, 'reinit', '--has', 'agent_started', '--all', '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.err);
    const body = JSON.parse(dry.out) as { dryRun: boolean; machines: Array<{ providerId: string; ok: boolean; result: string }> };
    assert.equal(body.dryRun, true);
    assert.deepEqual(body.machines.map((m) => m.providerId).sort(), ['node-0', 'node-1']);
    assert.ok(body.machines.every((m) => m.ok && m.result.startsWith('would: ')));
    const list = await run(url, 'list', '--has', 'agent_started', '--json');
    assert.equal((JSON.parse(list.out) as unknown[]).length, 2, 'still two machines with an agent');
  });

  it('refuses bulk actions without --yes when stdin is not a terminal, and without --all for filters', async () => {
    const r = await run(url, 'reinit', '--has', 'agent_started', '--all');
    assert.equal(r.code, 2);
    assert.match(r.err, /stdin is not a terminal, so give --yes/);
    const noAll = await run(url, 'reinit', '--has', 'agent_started', '--yes');
    assert.equal(noAll.code, 2);
    assert.match(noAll.err, /--all/);
  });

  it('acts on one machine by provider id, audits it, refuses a second time, and shows it in history', async () => {
    const r = await run(url, 'reinit', 'node-0', '--reason', 'kernel panic', '--actor', 'bob');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /node-0\): AgentStarted .* dropped/);
    const again = await run(url, 'reinit', 'node-0');
    assert.equal(again.code, 1);
    assert.match(again.out, /refused: no agent was started/);
    const h = await run(url, 'history', 'node-0', '--json');
    const rows = JSON.parse(h.out) as Array<{ kind: string; what: string; detail: string }>;
    assert.deepEqual(rows.map((x) => [x.kind, x.what]), [['audit', 'reinit by bob']]);
    assert.match(rows[0]!.detail, /reason: kernel panic/);
    const unknown = await run(url, 'show', 'node-9');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no machine matches "node-9"/);
    const wrongFlag = await run(url, 'reinit', 'node-1', '--image', 'https://x/');
    assert.equal(wrongFlag.code, 2);
  });

  it('lists stuck machines (--stuck, --stuck-in) and explain says why', async () => {
    const bmdb = await openBmdb({ url, migrate: false });
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    await bmdb.transact('unittest', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'quiet-1' });
      await q.setAgentStarted({ machineId: m.machineId, startedAt: hoursAgo(5), publicKey: new Uint8Array(32) });
      await q.setAgentHeartbeat({ machineId: m.machineId, at: hoursAgo(3) });
    });
    await bmdb.close();
    const stuck = await run(url, 'list', '--stuck', '--json');
    assert.equal(stuck.code, 0, stuck.err);
    const rows = JSON.parse(stuck.out) as Array<{ providerId: string; state: { state: string; stuck: boolean } }>;
    assert.deepEqual(rows.map((r) => [r.providerId, r.state.state, r.state.stuck]), [['quiet-1', 'silent', true]]);
    const table = await run(url, 'list', '--stuck-in', 'silent');
    assert.match(table.out, /quiet-1 .* silent, stuck since 3h ago/);
    assert.doesNotMatch(table.out, /node-/);
    assert.equal((JSON.parse((await run(url, 'list', '--stuck-in', 'backing-off', '--json')).out) as unknown[]).length, 0);
    const bad = await run(url, 'list', '--stuck-in', 'sideways');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^--stuck-in/);
    assert.equal((await run(url, 'list', '--stuck', '--stuck-in', 'silent')).code, 2);
    assert.equal((JSON.parse((await run(url, 'list', '--stuck', '--stuck-limit', 'silent=off', '--json')).out) as unknown[]).length, 0, 'no limit: never stuck');
    assert.equal((JSON.parse((await run(url, 'list', '--stuck', '--stuck-limit', 'silent=4h', '--json')).out) as unknown[]).length, 0, 'silent 3 h < 4 h');
    assert.equal((await run(url, 'list', '--stuck', '--stuck-limit', 'sideways=1m')).code, 2);
    const explain = await run(url, 'explain', 'quiet-1');
    assert.match(explain.out, /^stuck: silent since \S+Z \(3h\), longer than the silent limit of 2h\n/);
  });
});
