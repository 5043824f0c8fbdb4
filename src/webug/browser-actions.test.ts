// The browser side of --allow-actions over HTTP: login, CSRF, the machine
// page's action forms with their refusals, and bulk actions with preview,
// confirmation, a changed selection and the cap.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { MAX_BULK_MACHINES } from './browser-actions.ts';
import { parseApiTokens, startWebug, type Webug } from './index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const OPERATOR = 'operator-secret-0123456789';
const VIEWER = 'viewer-secret-0123456789';
const TOKENS = parseApiTokens(`operator alice ${sha(OPERATOR)}\nviewer bob ${sha(VIEWER)}\n`);

describeBmdb('webug browser actions', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  let machines: string[];

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (path: string, fields: Record<string, string>, cookie?: string, extra: Record<string, string> = {}) =>
    fetch(new URL(path, webug.url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}), ...extra },
      body: form(fields),
    });
  const page = async (path: string, cookie?: string) => {
    const res = await fetch(new URL(path, webug.url), { headers: cookie ? { Cookie: cookie } : {} });
    assert.equal(res.status, 200, path);
    return res.text();
  };
  /** Logs in; returns the cookie to send and the session's CSRF token as the pages show it. */
  const login = async (token: string) => {
    const res = await post('/login', { token, next: '/' });
    assert.equal(res.status, 303);
    const setCookie = res.headers.get('set-cookie')!;
    assert.match(setCookie, /^webug_session=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0]!;
    const csrf = /name="csrf" value="([\w-]+)"/.exec(await page('/', cookie))![1]!;
    return { cookie, csrf };
  };
  const audit = () => bmdb.transact('unittest', (q) => q.listAuditEntries({ limit: 100 }));

  before(async () => {
    bmdb = await open();
    machines = await provideMachines(bmdb, 3, { prefix: 'web' });
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', allowActions: true, apiTokens: TOKENS });
  });
  after(async () => {
    await webug?.close();
  });

  it('logs in with a token on the login page; a wrong token gets the page again with 401', async () => {
    assert.match(await page('/login?next=/machines'), /<input type="password" name="token"/);
    const wrong = await post('/login', { token: 'nope', next: '/' });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /that token is not in the tokens file/);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const offsite = await post('/login', { token: OPERATOR, next: '//evil.example/' });
    assert.equal(offsite.headers.get('location'), '/', 'next never leaves the origin');
    const { cookie } = await login(OPERATOR);
    assert.match(await page(`/machines/${machines[0]}`, cookie), /alice \(operator\)/);
  });

  it('refuses every action form without a session, without or with a wrong CSRF token, for a viewer, and from another origin; audits nothing', async () => {
    const path = `/machines/${machines[0]}/actions/quarantine`;
    const op = await login(OPERATOR);
    const viewer = await login(VIEWER);
    assert.equal((await post(path, { reason: 'r', csrf: op.csrf })).status, 401, 'no session');
    assert.equal((await post(path, { reason: 'r' }, op.cookie)).status, 403, 'no CSRF token');
    assert.equal((await post(path, { reason: 'r', csrf: viewer.csrf }, op.cookie)).status, 403, "another session's CSRF token");
    const v = await post(path, { reason: 'r', csrf: viewer.csrf }, viewer.cookie);
    assert.equal(v.status, 403);
    assert.match(await v.text(), /viewer role/);
    assert.equal((await post(path, { reason: 'r', csrf: op.csrf }, op.cookie, { Origin: 'http://evil.example' })).status, 403, 'cross-origin');
    assert.doesNotMatch(await page(`/machines/${machines[0]}`, viewer.cookie), /class="action-form"/, 'a viewer sees no buttons');
    assert.deepEqual(await audit(), []);
  });

  it('acts from the machine page with a reason, shows it in the audit section, and refuses what does not apply', async () => {
    const op = await login(OPERATOR);
    const machinePage = await page(`/machines/${machines[1]}`, op.cookie);
    assert.match(machinePage, /<form class="action-form" method="post" action="\/machines\/[^"]+\/actions\/quarantine"/);
    assert.match(machinePage, /id="install-form-slot"/);
    const path = `/machines/${machines[1]}/actions/quarantine`;
    assert.equal((await post(path, { csrf: op.csrf }, op.cookie)).status, 400, 'a reason is required');
    const done = await post(path, { csrf: op.csrf, reason: 'disk errors' }, op.cookie);
    assert.equal(done.status, 303);
    assert.match(done.headers.get('location')!, new RegExp(`^/machines/${machines[1]}\\?done=[0-9a-f-]+#operator-actions$`));
    const [entry] = await audit();
    assert.deepEqual([entry!.actor, entry!.action, entry!.reason, entry!.machineId], ['web:alice', 'quarantine', 'disk errors', machines[1]]);
    const after = await page(`/machines/${machines[1]}`, op.cookie);
    assert.match(after, /id="audit-section">.*<td>web:alice<\/td><td>quarantine<\/td>.*<td>disk errors<\/td>/s);
    const again = await post(path, { csrf: op.csrf, reason: 'twice' }, op.cookie);
    assert.equal(again.status, 409, 'already quarantined');
    assert.match(await again.text(), /<h1>Refused<\/h1>.*already quarantined/s);
    assert.equal((await post(`/machines/00000000-0000-4000-8000-000000000000/actions/quarantine`, { csrf: op.csrf, reason: 'x' }, op.cookie)).status, 404, 'unknown machine');
    assert.equal((await post(`/machines/${machines[1]}/actions/fly`, { csrf: op.csrf, reason: 'x' }, op.cookie)).status, 404, 'unknown action');
    assert.equal((await audit()).length, 1);
    const out = await post('/logout', { csrf: op.csrf }, op.cookie);
    assert.match(out.headers.get('set-cookie')!, /Max-Age=0/);
    assert.equal((await post(path, { csrf: op.csrf, reason: 'after logout' }, op.cookie)).status, 401);
  });

  it('bulk: previews the filter with the count, confirms, and refuses a confirmation whose selection changed', async () => {
    const op = await login(OPERATOR);
    assert.match(await page('/?q=web-', op.cookie), /<details id="bulk-actions"/);
    const fields = { csrf: op.csrf, action: 'quarantine', reason: 'rack 7 power work', filter: 'q=web-&lacks=quarantined' };
    const preview = await post('/bulk/preview', fields, op.cookie);
    assert.equal(preview.status, 200);
    const text = await preview.text();
    assert.match(text, /quarantine on <span id="bulk-count">2<\/span> machines\?/);
    assert.equal((await audit()).length, 1, 'a preview changes nothing');
    const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(text)![1]!;
    const confirm = { ...fields, count: hidden('count'), digest: hidden('digest') };
    // Someone quarantines one of the two in between: the selection is no longer what was previewed.
    await bmdb.transact('unittest', (q) => q.quarantineMachine({ machineId: machines[0]!, reason: 'meanwhile', by: 'carol' }));
    const stale = await post('/bulk/apply', confirm, op.cookie);
    assert.equal(stale.status, 409);
    assert.match(await stale.text(), /the selection changed since the preview \(2 machines then, 1 now\)/);
    assert.equal((await audit()).length, 1);
    const again = await (await post('/bulk/preview', fields, op.cookie)).text();
    const hidden2 = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(again)![1]!;
    const applied = await post('/bulk/apply', { ...fields, count: hidden2('count'), digest: hidden2('digest') }, op.cookie);
    assert.equal(applied.status, 200);
    assert.match(await applied.text(), /quarantine: 1 of 1 machines changed/);
    assert.deepEqual((await audit()).map((a) => [a.action, a.machineId, a.reason]).slice(0, 1), [['quarantine', machines[2], 'rack 7 power work']]);
    assert.equal((await post('/bulk/apply', { ...fields, count: '1', digest: hidden2('digest') }, op.cookie)).status, 400, 'now it selects none');
    assert.equal((await post('/bulk/preview', { ...fields, csrf: '' }, op.cookie)).status, 403, 'CSRF on bulk forms too');
  });

  it(`bulk: refuses a selection of more than ${MAX_BULK_MACHINES} machines`, async () => {
    const op = await login(OPERATOR);
    await bmdb.driver.query(`INSERT INTO machines (machine_created_at) SELECT now() FROM generate_series(1, ${MAX_BULK_MACHINES + 1})`);
    const res = await post('/bulk/preview', { csrf: op.csrf, action: 'reinit', reason: 'too many', filter: 'lacks=provided' }, op.cookie);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /more than 1000 machines; narrow it/);
  });
  it('install form: requests an image installation with its digest and device, then says it is pending instead of offering a second', async () => {
    const op = await login(OPERATOR);
    const path = `/machines/${machines[1]}`;
    const form = /<form class="action-form install-form" method="post" action="([^"]+)"/.exec(await page(path, op.cookie));
    assert.equal(form?.[1], `${path}/actions/install`);
    const sha256 = '0f'.repeat(32);
    const fields = { csrf: op.csrf, reason: 'first OS', 'arg.image': 'https://images.test/os.img', 'arg.sha256': sha256, 'arg.device': '/dev/nvme0n1', 'arg.postInstallCommand': '' };
    assert.equal((await post(`${path}/actions/install`, { ...fields, csrf: '' }, op.cookie)).status, 403, 'CSRF on the install form too');
    const res = await post(`${path}/actions/install`, fields, op.cookie);
    assert.ok(res.status === 200 || res.status === 303, String(res.status));
    const after = await page(path, op.cookie);
    assert.match(after, /data-phase="pending" data-generation="1">OS installation: <span class="badge idle">pending<\/span>/);
    assert.match(after, /generation 1 is pending; cancel-install it before requesting another/);
    const [entry] = (await audit()).filter((a) => a.action === 'install');
    assert.deepEqual([entry?.machineId, entry?.actor, entry?.reason, entry?.arguments], [machines[1], 'web:alice', 'first OS', { image: 'https://images.test/os.img', sha256, device: '/dev/nvme0n1' }]);
  });
});
