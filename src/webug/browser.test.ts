// The operator's path through the UI in a real browser (Debian chromium).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { startWebug, type Webug } from './index.ts';
import { chromiumAvailable, launchChromium } from './testing/browser.ts';
import { seedDemoFleet, type DemoFleet } from './testing/seed.ts';

describe('webug in a browser', { skip: chromiumAvailable() ? false : 'no chromium at /usr/bin/chromium' }, () => {
  let bmdb: Bmdb;
  let webug: Webug;
  let fleet: DemoFleet;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
    fleet = await seedDemoFleet(bmdb.driver);
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', liveMs: 300 });
    browser = await launchChromium();
    const context = await browser.newContext({ acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => {
      errors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
  });
  after(async () => {
    await browser?.close();
    await webug?.close();
    await bmdb?.close();
  });

  it('opens the list and filters it by provider', async () => {
    await page.goto(webug.url);
    assert.equal(await page.locator('table.fleet tbody tr').count(), 7);
    await page.selectOption('select[name=provider]', 'Lumen');
    await page.click('button[type=submit]');
    await page.waitForURL(/provider=Lumen/);
    assert.equal(await page.locator('table.fleet tbody tr').count(), 1);
    assert.match(await page.locator('table.fleet tbody tr').innerText(), /lumen-77/);
    assert.match(await page.locator('table.fleet tbody tr').innerText(), /silent/);
  });

  it('opens a machine and reads its explain and history', async () => {
    await page.goto(new URL(`/?q=eqx-ny5-0003`, webug.url).href);
    await page.click(`a[href="/machines/${fleet.backingOff}"]`);
    await page.waitForURL(new RegExp(fleet.backingOff));
    const start = page.locator('.explain[data-process=ShepherdAgentStart]');
    assert.match(await start.innerText(), /not a candidate/);
    const clause = start.locator('li[data-clause=no-active-backoff]');
    assert.equal(await clause.getAttribute('data-holds'), 'false');
    assert.match(await clause.innerText(), /backing off until .*handshake failed/);
    const history = await page.locator('table.history tbody').innerText();
    assert.match(history, /Failed/);
    assert.match(history, /Started/);
  });

  it('updates a live page after a tag changes in the database', async () => {
    await page.goto(new URL(`/machines/${fleet.fresh}`, webug.url).href);
    assert.equal(await page.locator('.tag-panel[data-tag=agent_heartbeat]').count(), 0);
    const before = await page.locator('#updated').innerText();
    await bmdb.driver.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, now())`, [fleet.fresh]);
    await page.locator('.tag-panel[data-tag=agent_heartbeat]').waitFor({ timeout: 5000 });
    // "last updated" shows whole seconds: the next refresh in a later second changes it.
    await page.waitForFunction(`document.getElementById('updated')?.textContent !== ${JSON.stringify(before)}`, undefined, { timeout: 5000 });
  });

  it('exports the audit trail as CSV', async () => {
    await page.goto(new URL('/audit?event=Failed', webug.url).href);
    assert.equal(await page.locator('table.audit tbody tr').count(), 2);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'timestamp,machine_id,process,event,failed_cause');
    assert.equal(lines.length, 3);
    assert.ok(lines.some((l) => l.includes(fleet.hostile)));
  });

  it('renders hostile content inert', async () => {
    for (const path of ['/', `/machines/${fleet.hostile}`, '/audit']) {
      await page.goto(new URL(path, webug.url).href);
      await page.waitForTimeout(400); // a live refresh included
      assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, path);
      assert.equal(await page.locator('main img, #live script, .cause script').count(), 0, path);
      assert.match(await page.locator('main').innerText(), /<script>window.__pwned=1<\/script>/);
    }
    assert.deepEqual(errors, []);
  });
});
