// Regenerates docs/webug-*.png from the demo fleet:
//   npx node src/webug/testing/screenshots.ts
import path from 'node:path';
import { openBmdb } from '../../bmdb/index.ts';
import { startWebug } from '../index.ts';
import { launchChromium } from './browser.ts';
import { seedDemoFleet, seedMachine } from './seed.ts';

const docs = path.join(import.meta.dirname, '../../../docs');
const bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
const fleet = await seedDemoFleet(bmdb.driver);
for (let i = 0; i < 14; i++) {
  await seedMachine(bmdb.driver, {
    providerId: `eqx-am6-${String(1000 + i)}`,
    address: `147.75.40.${10 + i}`,
    location: 'am6',
    status: 'Running',
    agentStartedSecondsAgo: 5000 + i * 60,
    heartbeatSecondsAgo: 3 + i * 2,
    hardwareReport: true,
  });
}
const webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', liveMs: 60_000 });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  await page.goto(webug.url);
  await page.screenshot({ path: path.join(docs, 'webug-fleet.png'), fullPage: true });
  await page.goto(new URL(`/machines/${fleet.healthy}`, webug.url).href);
  await page.screenshot({ path: path.join(docs, 'webug-machine.png'), fullPage: true });
  await page.goto(new URL(`/machines/${fleet.backingOff}`, webug.url).href);
  await page.screenshot({ path: path.join(docs, 'webug-machine-backoff.png'), fullPage: true });
} finally {
  await browser.close();
  await webug.close();
  await bmdb.close();
}
console.log(`screenshots written to ${docs}`);
