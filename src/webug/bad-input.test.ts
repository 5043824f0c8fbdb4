// Hostile or absurd client input gets a 400 naming the parameter, before any
// query runs; exports refuse before sending headers; a 500 never carries
// database text.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, it } from 'node:test';
import pino from 'pino';
import { describeBmdb } from '../../test/bmdb.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { startWebug, type Webug } from './index.ts';
import { encodeCursor } from './params.ts';
import { LEAKS } from './testing/leaks.ts';
import { seedDemoFleet } from './testing/seed.ts';

const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
const UUID = '00000000-0000-0000-0000-000000000001';

/** [path, the parameter the 400 must name] */
const BAD_REQUESTS: ReadonlyArray<readonly [string, string]> = [
  ['/?q=%00', 'q'],
  ['/api/machines?q=a%01b', 'q'],
  ['/api/machines?hb_older=9999999999h', 'hb_older'],
  ['/api/machines?hb_newer=99999999999999999999999h', 'hb_newer'],
  [`/api/machines?after=${forged([null, 'not-a-uuid'])}`, 'after'],
  [`/api/machines?sort=heartbeat&after=${forged(['yesterday', UUID])}`, 'after'],
  [`/api/machines?sort=created&after=${forged(['2025-13-01 00:00:00+00', UUID])}`, 'after'],
  [`/api/machines?sort=created&after=${forged(['2025-02-30 00:00:00+00', UUID])}`, 'after'],
  [`/api/audit?before=${forged(['2025-01-01 00:00:00+00', 'nope', 'ShepherdAgentStart', 'Started'])}`, 'before'],
  [`/api/audit?before=${forged(['2025-01-01 00:00:00+00', UUID, 'NoSuchProcess', 'Started'])}`, 'before'],
  [`/api/audit?before=${forged(['2025-01-01 00:00:00+00', UUID, 'ShepherdAgentStart', 'Exploded'])}`, 'before'],
  [`/audit?before=${forged(['soon', UUID, 'ShepherdAgentStart', 'Started'])}`, 'before'],
  ['/api/audit?from=-271821-04-20T00:00:00Z', 'from'],
  ['/audit?to=%2B275760-09-13T00:00:00Z', 'to'],
  ['/audit/export.csv?from=-271821-04-20T00:00:00Z', 'from'],
  [`/audit/export.json?before=${forged(['x', UUID, 'ShepherdAgentStart', 'Started'])}`, 'before'],
  ['/machines/%E0%A4%A', 'path'],
  ['/api/machines/%E0%A4%A', 'path'],
  ['/sessions/%ZZ', 'path'],
];


describeBmdb('webug refuses bad input', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  before(async () => {
    bmdb = await open();
    await seedDemoFleet(bmdb.driver);
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0' });
  });
  after(async () => {
    await webug?.close();
  });

  for (const [path, param] of BAD_REQUESTS) {
    it(`400 naming ${param}: ${path.slice(0, 70)}`, async () => {
      const res = await fetch(new URL(path, webug.url));
      const body = await res.text();
      assert.equal(res.status, 400, body.slice(0, 500));
      assert.ok(body.includes(param), `the message names ${param}: ${body.slice(0, 300)}`);
      assert.doesNotMatch(body, LEAKS);
      assert.doesNotMatch(res.headers.get('content-disposition') ?? '', /attachment/, 'an export refuses before its headers');
    });
  }

  it('a token login never redirects to another origin', async () => {
    const token = 'a-long-enough-test-token';
    const guarded = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', token });
    try {
      for (const path of ['/.//evil.example/', '//evil.example/', '/%2F%2Fevil.example/']) {
        const location = await new Promise<string | undefined>((resolve, reject) => {
          const req = request(new URL(guarded.url), { path: `${path}?token=${token}` }, (res) => {
            res.resume();
            resolve(res.headers.location);
          });
          req.on('error', reject).end();
        });
        assert.ok(location !== undefined && /^\/[^/\\]/.test(location), `${path} -> ${location}`);
      }
    } finally {
      await guarded.close();
    }
  });

  it('cursors the server issued still work', async () => {
    const first = (await (await fetch(new URL('/api/machines?sort=heartbeat&limit=2', webug.url))).json()) as { next: string };
    assert.equal((await fetch(new URL(`/api/machines?sort=heartbeat&limit=2&after=${first.next}`, webug.url))).status, 200);
    const audit = (await (await fetch(new URL('/api/audit?limit=1', webug.url))).json()) as { next: string };
    assert.equal((await fetch(new URL(`/api/audit?limit=1&before=${audit.next}`, webug.url))).status, 200);
    assert.equal((await fetch(new URL(`/audit/export.csv?before=${audit.next}`, webug.url))).status, 200);
    const offset = encodeCursor(['2025-06-01 12:00:00.5+05:30', UUID]);
    assert.equal((await fetch(new URL(`/api/machines?sort=created&after=${offset}`, webug.url))).status, 200);
  });
});

describeBmdb('webug when the database fails', ({ open }) => {
  it('a 500 says only "internal error" and a request id; the details go to the log under that id', async () => {
    const bmdb = await open();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', logger });
    try {
      await bmdb.close(); // every query from now on fails with the driver's own text
      for (const path of ['/api/machines', '/', '/audit/export.csv']) {
        const res = await fetch(new URL(path, webug.url));
        const body = await res.text();
        assert.equal(res.status, 500, path);
        const id = /internal error \(request id ([0-9a-f]+)\)/.exec(body)?.[1];
        assert.ok(id, `${path}: ${body.slice(0, 300)}`);
        assert.equal(res.headers.get('x-request-id'), id);
        assert.doesNotMatch(body, LEAKS);
        const logged = lines.find((l) => l.requestId === id);
        assert.equal(logged?.level, 50, 'logged at error level');
        assert.ok((logged?.err as { message?: string } | undefined)?.message, 'with the error');
      }
    } finally {
      await webug.close();
    }
  });
});
