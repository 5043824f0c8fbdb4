// `bmaas machines --api`: the same commands through webug's JSON API, with the
// same output as the direct path, and the API's refusals as exit codes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { describeBmdb } from '../../test/bmdb.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { parseApiTokens, startWebug, type Webug } from '../webug/index.ts';
import { runMachines } from './testing/run-machines.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const OPERATOR = 'operator-secret-0123456789';
const VIEWER = 'viewer-secret-0123456789';

describeBmdb('bmaas machines --api', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  let dir: string;
  let ids: string[];
  const files = { operator: '', viewer: '' };
  const api = (token: 'operator' | 'viewer' | 'none', ...argv: string[]) =>
    runMachines(...argv, '--api', webug.url, ...(token === 'none' ? [] : ['--api-token-file', files[token]]));

  before(async () => {
    bmdb = await open();
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-machines-api-'));
    files.operator = path.join(dir, 'operator.token');
    files.viewer = path.join(dir, 'viewer.token');
    await writeFile(files.operator, `${OPERATOR}\n`);
    await writeFile(files.viewer, VIEWER);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    ids = await bmdb.transact('unittest', async (q) => {
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await q.newMachine();
        await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: `api-${i}` });
        await q.setAgentStarted({ machineId: m.machineId, startedAt: hoursAgo(5), publicKey: new Uint8Array(32) });
        await q.setAgentHeartbeat({ machineId: m.machineId, at: i === 0 ? hoursAgo(3) : new Date() });
        out.push(m.machineId);
      }
      return out;
    });
    const tokens = parseApiTokens(`operator alice ${sha(OPERATOR)}\nviewer bob ${sha(VIEWER)}\n`);
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', allowActions: true, apiTokens: tokens });
  });
  after(async () => {
    await webug?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists, shows and explains through the API exactly as from the BMDB', async () => {
    const list = await api('viewer', 'list', '--stuck', '--json');
    assert.equal(list.code, 0, list.err);
    assert.deepEqual((JSON.parse(list.out) as Array<{ providerId: string }>).map((r) => r.providerId), ['api-0']);
    const table = await api('none', 'list');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /api-0 .* silent, stuck since 3h ago/);
    // By id prefix, resolved by webug.
    const explain = await api('viewer', 'explain', ids[0]!.slice(0, 8));
    assert.equal(explain.code, 0, explain.err);
    assert.match(explain.out, /^stuck: silent since .*longer than the silent limit of 2h\n/);
    assert.match(explain.out, /ShepherdRecovery: a candidate now/);
    const show = await api('viewer', 'show', 'api-1');
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, new RegExp(`^machine ${ids[1]}, created \\d{4}-`));
    const unknown = await api('viewer', 'show', 'api-9');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no machine matches "api-9"/);
    const bad = await api('viewer', 'list', '--stuck-in', 'sideways');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^--stuck-in/);
  });

  it('acts with an operator token (the token name in the audit trail), and refuses without one or with a viewer token', async () => {
    const none = await api('none', 'quarantine', 'api-0', '--reason', 'x');
    assert.equal(none.code, 1);
    assert.match(none.err, /bearer token .*HTTP 401/);
    const viewer = await api('viewer', 'quarantine', 'api-0', '--reason', 'x');
    assert.equal(viewer.code, 1);
    assert.match(viewer.err, /viewer role.*HTTP 403/);
    assert.equal((await bmdb.transact('unittest', (q) => q.listAuditEntries({ limit: 10 }))).length, 0);
    const done = await api('operator', 'quarantine', 'api-0', '--reason', 'fans');
    assert.equal(done.code, 0, done.err);
    assert.match(done.out, /api-0\): /);
    const again = await api('operator', 'quarantine', 'api-0', '--reason', 'fans');
    assert.equal(again.code, 1);
    assert.match(again.out, /api-0\): refused: /);
    const released = await api('operator', 'release', ids[0]!.slice(0, 13), '--reason', 'fans replaced');
    assert.equal(released.code, 0, released.err);
    const history = await api('viewer', 'history', 'api-0', '--json');
    assert.deepEqual((JSON.parse(history.out) as Array<{ what: string }>).map((r) => r.what), ['release by token:alice', 'quarantine by token:alice']);
    assert.equal((await api('operator', 'quarantine', 'api-0', '--actor', 'me')).code, 2, '--actor is the token name through the API');
    assert.equal((await api('operator', 'clear-backoff', 'api-0', '--process', 'Nope')).code, 2, 'a bad argument is a usage error');
  });

  it('bulk --dry-run through the API lists what would change and changes nothing', async () => {
    const dry = await api('operator', 'reinit', '--has', 'agent_heartbeat', '--all', '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.err);
    const body = JSON.parse(dry.out) as { dryRun: boolean; machines: Array<{ providerId: string; ok: boolean; result: string }> };
    assert.equal(body.dryRun, true);
    assert.deepEqual(body.machines.map((m) => m.providerId).sort(), ['api-0', 'api-1', 'api-2']);
    assert.ok(body.machines.every((m) => m.ok && m.result.startsWith('would: ')));
    const agents = await bmdb.driver.query('SELECT count(*)::int AS n FROM machine_agent_started');
    assert.equal(agents.rows[0]!.n, 3);
  });
});
