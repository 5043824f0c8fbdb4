// The operator's path through the UI in a real browser (Debian chromium).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { parseApiTokens, startWebug, type Webug, type WebugOptions } from './index.ts';
import { chromiumAvailable, launchChromium } from './testing/browser.ts';
import { seedDemoFleet, type DemoFleet } from './testing/seed.ts';

/** A seeded PGlite fleet, webug over it and a chromium page, set up before and closed after the suite. */
function browserFixture(webugOptions: Partial<WebugOptions> = {}) {
  const f = { errors: [] as string[] } as { bmdb: Bmdb; webug: Webug; fleet: DemoFleet; browser: Browser; page: Page; errors: string[] };
  before(async () => {
    f.bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
    f.fleet = await seedDemoFleet(f.bmdb.driver);
    f.webug = await startWebug({ bmdb: f.bmdb, listenAddress: '127.0.0.1:0', liveMs: 300, ...webugOptions });
    f.browser = await launchChromium();
    f.page = await (await f.browser.newContext({ acceptDownloads: true })).newPage();
    f.page.on('pageerror', (e) => f.errors.push(e.message));
    f.page.on('dialog', (d) => {
      f.errors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
  });
  after(async () => {
    await f.browser?.close();
    await f.webug?.close();
    await f.bmdb?.close();
  });
  return f;
}

describe('webug in a browser', { skip: chromiumAvailable() ? false : 'no chromium at /usr/bin/chromium' }, () => {
  const f = browserFixture();

  it('opens the list and filters it by provider', async () => {
    await f.page.goto(f.webug.url);
    assert.equal(await f.page.locator('table.fleet tbody tr').count(), 7);
    await f.page.selectOption('select[name=provider]', 'Lumen');
    await f.page.click('button[type=submit]');
    await f.page.waitForURL(/provider=Lumen/);
    assert.equal(await f.page.locator('table.fleet tbody tr').count(), 1);
    assert.match(await f.page.locator('table.fleet tbody tr').innerText(), /lumen-77/);
    assert.match(await f.page.locator('table.fleet tbody tr').innerText(), /silent/);
  });

  it('opens a machine and reads its explain and history', async () => {
    await f.page.goto(new URL(`/?q=eqx-ny5-0003`, f.webug.url).href);
    await f.page.click(`a[href="/machines/${f.fleet.backingOff}"]`);
    await f.page.waitForURL(new RegExp(f.fleet.backingOff));
    const start = f.page.locator('.explain[data-process=ShepherdAgentStart]');
    assert.match(await start.innerText(), /not a candidate/);
    const clause = start.locator('li[data-clause=no-active-backoff]');
    assert.equal(await clause.getAttribute('data-holds'), 'false');
    assert.match(await clause.innerText(), /backing off until .*handshake failed/);
    const history = await f.page.locator('table.history tbody').innerText();
    assert.match(history, /Failed/);
    assert.match(history, /Started/);
  });

  it('updates a live page after a tag changes in the database', async () => {
    await f.page.goto(new URL(`/machines/${f.fleet.fresh}`, f.webug.url).href);
    assert.equal(await f.page.locator('.tag-panel[data-tag=agent_heartbeat]').count(), 0);
    const before = await f.page.locator('#updated').innerText();
    await f.bmdb.driver.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, now())`, [f.fleet.fresh]);
    await f.page.locator('.tag-panel[data-tag=agent_heartbeat]').waitFor({ timeout: 5000 });
    // "last updated" shows whole seconds: the next refresh in a later second changes it.
    await f.page.waitForFunction(`document.getElementById('updated')?.textContent !== ${JSON.stringify(before)}`, undefined, { timeout: 5000 });
  });

  it('exports the audit trail as CSV', async () => {
    await f.page.goto(new URL('/audit?event=Failed', f.webug.url).href);
    assert.equal(await f.page.locator('table.audit tbody tr').count(), 2);
    const [download] = await Promise.all([f.page.waitForEvent('download'), f.page.click('#export-csv')]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'timestamp,machine_id,process,event,failed_cause');
    assert.equal(lines.length, 3);
    assert.ok(lines.some((l) => l.includes(f.fleet.hostile)));
  });

  it('renders hostile content inert', async () => {
    for (const path of ['/', `/machines/${f.fleet.hostile}`, '/audit']) {
      await f.page.goto(new URL(path, f.webug.url).href);
      await f.page.waitForTimeout(400); // a live refresh included
      assert.equal(await f.page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, path);
      assert.equal(await f.page.locator('main img, #live script, .cause script').count(), 0, path);
      assert.match(await f.page.locator('main').innerText(), /<script>window.__pwned=1<\/script>/);
    }
    assert.deepEqual(f.errors, []);
  });
});

describe('webug actions in a browser', { skip: chromiumAvailable() ? false : 'no chromium at /usr/bin/chromium' }, () => {
  const OPERATOR = 'operator-secret-0123456789';
  const f = browserFixture({ allowActions: true, apiTokens: parseApiTokens(`operator alice ${createHash('sha256').update(OPERATOR).digest('hex')}\n`) });

  it('logs in, clicks an action with a reason and sees it in the audit section', async () => {
    await f.page.goto(new URL(`/machines/${f.fleet.silent}`, f.webug.url).href);
    await f.page.click('#login-link');
    await f.page.fill('input[name=token]', OPERATOR);
    await f.page.click('form.login button[type=submit]');
    await f.page.waitForURL(new RegExp(`/machines/${f.fleet.silent}$`));
    const form = f.page.locator('form.action-form[data-action=quarantine]');
    await form.locator('input[name=reason]').fill('fans failing');
    await form.locator('button[type=submit]').click();
    await f.page.waitForURL(/done=/);
    const audit = f.page.locator('#audit-section table.operator-audit tbody');
    assert.match(await audit.innerText(), /web:alice\s+quarantine\s+fans failing/);
    assert.equal(await f.page.locator('.explain[data-process=ShepherdRecovery] li[data-clause=not-quarantined]').getAttribute('data-holds'), 'false');
  });

  it('previews a bulk action for the current filter and confirms it', async () => {
    await f.page.goto(new URL('/?provider=Equinix&lacks=agent_started', f.webug.url).href);
    await f.page.click('#bulk-actions summary');
    await f.page.selectOption('form.bulk-form select[name=action]', 'quarantine');
    await f.page.fill('form.bulk-form input[name=reason]', 'rack move');
    await f.page.click('form.bulk-form button[type=submit]');
    const count = Number(await f.page.locator('#bulk-count').innerText());
    assert.ok(count >= 2, `previewed ${count}`);
    await f.page.click('#bulk-confirm');
    assert.match(await f.page.locator('h1').innerText(), new RegExp(`quarantine: ${count} of ${count} machines changed`));
    assert.deepEqual(f.errors, []);
  });
});
