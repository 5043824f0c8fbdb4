// The outage proxy forwards bytes, then drops and refuses connections for
// exactly its window, then forwards again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { OutageProxy, OutageSyntaxError, parseServerOutage } from './outage-proxy.ts';

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

/** Sends a line through `address` and returns what came back, or 'refused'. */
function roundTrip(address: string, line: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const s = net.connect({ host: host!, port: Number(port) });
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.endsWith('\n')) {
        s.end();
        resolve(got.trim());
      }
    });
    s.on('error', () => resolve('refused'));
    s.on('close', () => resolve(got === '' ? 'refused' : got.trim()));
    s.write(`${line}\n`);
  });
}

describe('outage proxy', () => {
  it('reads DURATION@START', () => {
    assert.deepEqual(parseServerOutage('30s@40s'), { durationMs: 30_000, startMs: 40_000 });
    assert.deepEqual(parseServerOutage('500ms@0'), { durationMs: 500, startMs: 0 });
    for (const bad of ['30s', '@40s', '30s@', '0@1s', 'x@1s']) assert.throws(() => parseServerOutage(bad), OutageSyntaxError, bad);
  });

  it('forwards, is down for its window (open connections dropped too), and forwards again', async () => {
    const echo = await echoServer();
    after(() => echo.close());
    const { port } = echo.address() as net.AddressInfo;
    const proxy = await OutageProxy.start({ target: `127.0.0.1:${port}`, outage: { startMs: 400, durationMs: 600 } });
    after(() => proxy.close());
    assert.equal(await roundTrip(proxy.address, 'before'), 'before');
    const [ph, pp] = proxy.address.split(':');
    const open = net.connect({ host: ph!, port: Number(pp) });
    const closed = new Promise<void>((resolve) => open.on('close', () => resolve()));
    open.on('error', () => {});
    await delay(600);
    assert.equal(proxy.down, true);
    await closed;
    assert.equal(await roundTrip(proxy.address, 'during'), 'refused');
    await delay(600);
    assert.equal(proxy.down, false);
    assert.equal(await roundTrip(proxy.address, 'after'), 'after');
  });
});
