import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { ensureDevCertificates } from '../server/index.ts';
import { parseApiTokens, startWebug, WebugConfigError, type Webug } from './index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const OPERATOR = 'operator-secret-0123456789';
const VIEWER = 'viewer-secret-0123456789';
const TOKENS = parseApiTokens(`# role name sha256\noperator alice ${sha(OPERATOR)}\nviewer bob ${sha(VIEWER)}\n`);

describeBmdb('webug action API', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  let machine: string;
  const post = (p: string, body: unknown, token?: string) =>
    fetch(new URL(p, webug.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const auditCount = () => bmdb.transact('unittest', async (q) => (await q.listAuditEntries({ limit: 100 })).length);

  before(async () => {
    bmdb = await open();
    machine = (await provideMachines(bmdb, 1))[0]!;
    await bmdb.transact('unittest', (q) => q.recordSshHostKeyIfAbsent({ machineId: machine!, key: new Uint8Array([1]), fingerprint: 'SHA256:x' }));
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', allowActions: true, apiTokens: TOKENS });
  });
  after(async () => {
    await webug?.close();
  });

  it('refuses a request without a token, with an unknown token and with a viewer token, and audits nothing', async () => {
    const p = `/api/machines/${machine}/actions/accept-host-key`;
    const none = await post(p, {});
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await post(p, {}, 'not-a-token')).status, 401);
    const viewer = await post(p, {}, VIEWER);
    assert.equal(viewer.status, 403);
    assert.match(((await viewer.json()) as { error: string }).error, /viewer role/);
    assert.equal(await auditCount(), 0);
    assert.notEqual(await bmdb.transact('unittest', (q) => q.getSshHostKey({ machineId: machine! })), null);
  });

  it('runs an action for an operator token and audits it with the token name as the actor', async () => {
    const res = await post(`/api/machines/${machine}/actions/accept-host-key`, { reason: 'new motherboard' }, OPERATOR);
    assert.equal(res.status, 200, await res.clone().text());
    const out = (await res.json()) as { auditId: string; result: string };
    assert.match(out.result, /SHA256:x forgotten/);
    const [entry] = await bmdb.transact('unittest', (q) => q.listAuditEntries({ machineId: machine!, limit: 10 }));
    assert.deepEqual([entry!.id, entry!.actor, entry!.action, entry!.reason], [out.auditId, 'token:alice', 'accept-host-key', 'new motherboard']);
    // The audit page and its JSON show it next to the work history.
    const api = (await (await fetch(new URL(`/api/audit/actions?machine=${machine}`, webug.url))).json()) as { rows: Array<{ id: string; actor: string }> };
    assert.deepEqual(api.rows.map((r) => [r.id, r.actor]), [[out.auditId, 'token:alice']]);
    const page = await (await fetch(new URL('/audit', webug.url))).text();
    assert.match(page, /id="operator-actions"[\s\S]*token:alice[\s\S]*accept-host-key[\s\S]*new motherboard/);
  });

  it('maps refusals, unknown machines and actions, and bad bodies to 409, 404 and 400', async () => {
    const again = await post(`/api/machines/${machine}/actions/accept-host-key`, {}, OPERATOR);
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as { kind: string }).kind, 'refused', 'the kind names the action-layer error');
    const unknown = await post('/api/machines/00000000-0000-4000-8000-000000000001/actions/reinit', {}, OPERATOR);
    assert.deepEqual([unknown.status, ((await unknown.json()) as { kind: string }).kind], [404, 'unknown-machine']);
    const resolve = await fetch(new URL(`/api/resolve?selector=${machine.slice(0, 8)}`, webug.url));
    assert.deepEqual(((await resolve.json()) as { machineId: string }).machineId, machine);
    const noMatch = await fetch(new URL('/api/resolve?selector=nothing-like-it', webug.url));
    assert.deepEqual([noMatch.status, ((await noMatch.json()) as { kind: string }).kind], [404, 'unknown-machine']);
    assert.equal((await post('/api/machines/00000000-0000-4000-8000-000000000000/actions/reinit', {}, OPERATOR)).status, 404);
    assert.equal((await post(`/api/machines/${machine}/actions/explode`, {}, OPERATOR)).status, 404);
    assert.equal((await post(`/api/machines/${machine}/actions/clear-backoff`, { arguments: { process: 'Nope' } }, OPERATOR)).status, 400);
    assert.equal((await post(`/api/machines/${machine}/actions/reinit`, { force: true }, OPERATOR)).status, 400);
    assert.equal((await post(`/api/machines/${machine}/actions/reinit`, [], OPERATOR)).status, 400);
    // Reads stay GET only.
    assert.equal((await post('/api/machines', {}, OPERATOR)).status, 405);
  });
});

describeBmdb('webug action API configuration', ({ open }) => {
  it('stays read-only without allowActions, needs tokens, and needs TLS off loopback', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const ro = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', apiTokens: TOKENS });
    try {
      const res = await fetch(new URL(`/api/machines/${m}/actions/reinit`, ro.url), { method: 'POST', headers: { Authorization: `Bearer ${OPERATOR}` } });
      assert.equal(res.status, 405);
    } finally {
      await ro.close();
    }
    await assert.rejects(startWebug({ bmdb, listenAddress: '127.0.0.1:0', allowActions: true }), /no actions without a token/);
    await assert.rejects(startWebug({ bmdb, listenAddress: '0.0.0.0:0', token: 'x'.repeat(16), allowActions: true, apiTokens: TOKENS }), WebugConfigError);
  });

  it('serves HTTPS with --tls-cert/--tls-key, and then serves actions off loopback', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const dir = await mkdtemp(path.join(tmpdir(), 'webug-tls-'));
    try {
      const certs = await ensureDevCertificates(dir);
      const webug = await startWebug({ bmdb, listenAddress: '0.0.0.0:0', token: 'r'.repeat(16), allowActions: true, apiTokens: TOKENS, tls: { cert: certs.cert, key: certs.key } });
      try {
        assert.match(webug.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
        const port = Number(new URL(webug.url).port);
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port, servername: 'localhost', path: `/api/machines/${m}/actions/decommission`, method: 'POST', ca: readFileSync(certs.caCertPath), headers: { Authorization: `Bearer ${OPERATOR}`, 'Content-Type': 'application/json' } },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ reason: 'retired' }));
        });
        assert.equal(status, 200, body);
        assert.equal(await bmdb.transact('unittest', async (q) => (await q.db.query('SELECT 1 FROM machines WHERE machine_id = $1', [m])).rows.length), 0);
      } finally {
        await webug.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
