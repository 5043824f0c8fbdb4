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

function rejects(text: string | Uint8Array, pattern: RegExp): void {
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
  it('a bad port names the entry', () => rejects('[{"ID":"a","Addr":"192.0.2.1:99999"}]', /entry 0 \(ID "a"\).*port 99999 is outside 1\.\.65535/));
  it('a bad host name names the entry', () => rejects('[{"ID":"x","Addr":"bad_host!"}]', /entry 0 \(ID "x"\).*is not a host name or IP address/));
  it('a bad IPv6 address names the entry', () => rejects('[{"ID":"x","Addr":"[2001:db8::zz]:22"}]', /entry 0 \(ID "x"\).*in brackets is not an IPv6 address/));
  it('a duplicate ID names both entries', () => rejects('[{"ID":"a","Addr":"192.0.2.1"},{"ID":"a","Addr":"192.0.2.2"}]', /entry 1 \(ID "a"\): duplicate ID, also used by entry 0/));
  it('an empty list is refused', () => rejects('[]', /device list list\.json is empty/));
  it('a non-array is refused', () => rejects('{"ID":"a"}', /must be a JSON array/));
  it('invalid JSON is refused', () => rejects('[{', /not valid JSON/));
  it('an entry that is not an object names its index', () => rejects('["a"]', /entry 0: /));
});

describe('mini device list: only what the BMDB can store', () => {
  const entry = (fields: Record<string, string>) => JSON.stringify([{ ID: 'ok', Addr: '192.0.2.1' }, { Addr: '192.0.2.2', ...fields }]);

  it('NUL in an ID or a Location names the entry', () => {
    rejects(entry({ ID: 'a\u0000b' }), /entry 1 \(ID "a\\u0000b"\): ID: contains NUL \(U\+0000\) at index 1/);
    rejects(entry({ ID: 'b', Location: 'rack\u00003' }), /entry 1 \(ID "b"\): Location: contains NUL \(U\+0000\) at index 4/);
  });
  it('any control character in an ID is refused; a Location may hold tabs, nothing else', () => {
    for (const ch of ['\t', '\n', '\u001b', '\u007f', '\u0085']) rejects(entry({ ID: `x${ch}` }), /entry 1 \(ID "x\\(t|n|u00[0-9a-f]{2})"\): ID: contains the control character U\+00[0-9A-F]{2} at index 1/);
    rejects(entry({ ID: 'b', Location: 'a\nb' }), /entry 1 \(ID "b"\): Location: contains the control character U\+000A/);
    assert.equal(parseDeviceList(entry({ ID: 'b', Location: 'row\t3' }), 'list.json')[1]!.Location, 'row\t3');
  });
  it('unpaired surrogates are refused, pairs are fine', () => {
    rejects('[{"ID":"a\\ud800","Addr":"192.0.2.1"}]', /entry 0 \(ID "a\\ud800"\): ID: contains an unpaired surrogate U\+D800 at index 1/);
    rejects('[{"ID":"a","Addr":"192.0.2.1","Location":"\\udc00x"}]', /entry 0 \(ID "a"\): Location: contains an unpaired surrogate U\+DC00 at index 0/);
    assert.equal(parseDeviceList('[{"ID":"\\ud83d\\ude80","Addr":"192.0.2.1"}]', 'list.json')[0]!.ID, '\u{1f680}');
  });
  it('absurd lengths are refused, and the error quotes only the start of the ID', () => {
    rejects(entry({ ID: 'x'.repeat(129) }), /entry 1 \(ID "x{64}…"\): ID: must be at most 128 characters \(has 129\)/);
    rejects(entry({ ID: 'b', Location: 'l'.repeat(1025) }), /entry 1 \(ID "b"\): Location: must be at most 1024 characters/);
    rejects(entry({ ID: 'b', Addr: `${'a'.repeat(600)}.example` }), /entry 1 \(ID "b"\): Addr: must be at most 512 characters/);
  });

  const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  it('invalid UTF-8 is refused with the entry and the byte offset, never replaced', () => {
    const head = '[{"ID":"ok","Addr":"192.0.2.1"},{"ID":"bad';
    rejects(bytes(head, [0xff, 0xfe], 'id","Addr":"192.0.2.2"}]'), new RegExp(`entry 1 \\(ID "bad\\\\ufffd\\\\ufffdid"\\): invalid UTF-8 at byte offset ${head.length}$`));
    // An overlong NUL, an encoded surrogate, a truncated sequence at the end.
    rejects(bytes('[{"ID":"a', [0xc0, 0x80], '","Addr":"192.0.2.1"}]'), /entry 0 \(ID "a\\ufffd\\ufffd"\): invalid UTF-8 at byte offset 9$/);
    rejects(bytes('[{"ID":"a","Addr":"192.0.2.1","Location":"', [0xed, 0xa0, 0x80], '"}]'), /entry 0 \(ID "a"\): invalid UTF-8 at byte offset 42$/);
    rejects(bytes('[{"ID":"a","Addr":"192.0.2.1"}]', [0xe2, 0x82]), /list\.json is not valid UTF-8 \(at byte offset 31, outside any entry\)/);
  });
  it('UTF-8 bytes are decoded, with or without a byte order mark', () => {
    assert.equal(parseDeviceList(bytes([0xef, 0xbb, 0xbf], '[{"ID":"n\u00f6de","Addr":"192.0.2.1"}]'), 'list.json')[0]!.ID, 'nöde');
  });
  it('a file with invalid UTF-8 is refused by loadDeviceList', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bmaas-mini-'));
    try {
      const path = join(dir, 'list.json');
      await writeFile(path, bytes('[{"ID":"bad', [0xff, 0xfe], 'id","Addr":"192.0.2.1"}]'));
      await assert.rejects(loadDeviceList(path), /entry 0 \(ID "bad\\ufffd\\ufffdid"\): invalid UTF-8 at byte offset 11/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
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
