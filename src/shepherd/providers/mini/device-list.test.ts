import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Availability, ProviderMachineNotFoundError } from '../../provider.ts';
import { DeviceListError, loadDeviceList, MiniProvider, parseDeviceList } from './index.ts';

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parseDeviceList(text, 'list.json'), (err: unknown) => {
    assert.ok(err instanceof DeviceListError);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('mini device list parsing', () => {
  it('accepts IPv4, IPv6 and host names, with and without ports', () => {
    const devices = parseDeviceList(
      JSON.stringify([
        { ID: 'a', Addr: '192.0.2.1', Location: 'rack 1' },
        { ID: 'b', Addr: '192.0.2.2:2222' },
        { ID: 'c', Addr: '2001:db8::1' },
        { ID: 'd', Addr: '[2001:db8::2]:22' },
        { ID: 'e', Addr: 'node-5.example.com:22' },
      ]),
      'list.json',
    );
    assert.deepEqual(devices.map((d) => d.ID), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(devices[0]!.Location, 'rack 1');
  });

  it('an unknown field names the entry index and ID', () => rejects('[{"ID":"a","Addr":"192.0.2.1"},{"ID":"b","Addr":"192.0.2.2","Adress":"x"}]', /entry 1 \(ID "b"\): unknown field\(s\) "Adress"/));
  it('a missing Addr names the entry', () => rejects('[{"ID":"a"}]', /entry 0 \(ID "a"\): Addr/));
  it('a bad IPv4 address names the entry', () => rejects('[{"ID":"a","Addr":"192.0.2.300"}]', /entry 0 \(ID "a"\): Addr "192.0.2.300" is not host\[:port\]/));
  it('a bad port names the entry', () => rejects('[{"ID":"a","Addr":"192.0.2.1:99999"}]', /entry 0 \(ID "a"\).*port out of range/));
  it('a bad host name names the entry', () => rejects('[{"ID":"x","Addr":"bad_host!"}]', /entry 0 \(ID "x"\).*not a valid host name/));
  it('a bad IPv6 address names the entry', () => rejects('[{"ID":"x","Addr":"[2001:db8::zz]:22"}]', /entry 0 \(ID "x"\).*not a valid IPv6/));
  it('a duplicate ID names both entries', () => rejects('[{"ID":"a","Addr":"192.0.2.1"},{"ID":"a","Addr":"192.0.2.2"}]', /entry 1 \(ID "a"\): duplicate ID, also used by entry 0/));
  it('an empty list is refused', () => rejects('[]', /device list list\.json is empty/));
  it('a non-array is refused', () => rejects('{"ID":"a"}', /must be a JSON array/));
  it('invalid JSON is refused', () => rejects('[{', /not valid JSON/));
  it('an entry that is not an object names its index', () => rejects('["a"]', /entry 0: /));
});

describe('mini device list loading and the provider', () => {
  let dir: string;
  let server: ReturnType<typeof createServer>;
  let base: string;
  let body = '[{"ID":"h1","Addr":"127.0.0.1:22"}]';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-mini-'));
    server = createServer((req, res) => {
      if (req.url === '/hang') return; // never answers
      if (req.url === '/missing') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads file:// URLs and plain paths', async () => {
    const path = join(dir, 'list.json');
    await writeFile(path, '[{"ID":"f1","Addr":"127.0.0.1"}]');
    assert.deepEqual((await loadDeviceList(pathToFileURL(path).href)).map((d) => d.ID), ['f1']);
    assert.deepEqual((await loadDeviceList(path)).map((d) => d.ID), ['f1']);
  });

  it('fetches http:// URLs, with a timeout and HTTP errors reported', async () => {
    assert.deepEqual((await loadDeviceList(`${base}/list.json`)).map((d) => d.ID), ['h1']);
    await assert.rejects(loadDeviceList(`${base}/missing`), /HTTP 404/);
    await assert.rejects(loadDeviceList(`${base}/hang`, { timeoutMs: 200 }), /no answer within 200 ms/);
  });

  it('every machine is PossiblyUsed and an unknown id is ProviderMachineNotFoundError', async () => {
    const provider = await MiniProvider.open({ deviceListUrl: `${base}/list.json`, providerType: 'Lumen' });
    assert.equal(provider.type, 'Lumen');
    const machines = await provider.listMachines();
    assert.deepEqual(machines.map((m) => [m.id, m.address, m.availability, m.failed]), [['h1', '127.0.0.1:22', Availability.PossiblyUsed, false]]);
    await assert.rejects(provider.getMachine('nope'), ProviderMachineNotFoundError);
  });

  it('a reload takes a valid new list and keeps the old one when the new one is bad', async () => {
    const provider = await MiniProvider.open({ deviceListUrl: `${base}/list.json` });
    body = '[{"ID":"h1","Addr":"127.0.0.1:22"},{"ID":"h2","Addr":"127.0.0.2:22"}]';
    assert.equal(await provider.reload(), true);
    assert.equal((await provider.listMachines()).length, 2);
    body = '[{"ID":"h1","Addr":"127.0.0.1:22"},{"ID":"h1","Addr":"127.0.0.2:22"}]';
    assert.equal(await provider.reload(), false);
    assert.deepEqual((await provider.listMachines()).map((m) => m.id), ['h1', 'h2']);
  });
});
