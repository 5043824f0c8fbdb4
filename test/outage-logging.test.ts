// webug and scruffy on a database that refuses every connection: the process's
// outage reporter logs one line, and their own failed requests and collection
// rounds go to debug. (That failures which are not an outage still log at
// error is checked beside each: src/webug/bad-input.test.ts with a closed
// pool, src/scruffy/exporter.test.ts with a missing table.)
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { openBmdb, type Bmdb } from '../src/bmdb/index.ts';
import { ScruffyExporter } from '../src/scruffy/index.ts';
import { startWebug } from '../src/webug/index.ts';
import { OUTAGE_STARTED } from './faults/component-stand.ts';

interface Line {
  level: number;
  msg: string;
  requestId?: string;
}

/** A port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A BMDB whose every call is refused, and the lines it and its users log. */
async function unreachable(): Promise<{ bmdb: Bmdb; lines: Line[]; logger: pino.Logger }> {
  const lines: Line[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  const bmdb = await openBmdb({ url: `postgres://bmaas@127.0.0.1:${await closedPort()}/bmaas`, logger, metricsRegistry: new Registry() });
  after(() => bmdb.close());
  return { bmdb, lines, logger };
}

const loud = (lines: Line[]) => lines.filter((l) => l.level >= 40).map((l) => l.msg);

describe('a database outage is logged once per process', () => {
  it('webug: every request fails with a 503 and Retry-After, logged at debug; the outage is one error line', async () => {
    const { bmdb, lines, logger } = await unreachable();
    const webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', logger });
    try {
      for (const path of ['/api/machines', '/', '/api/machines', '/sessions']) {
        const res = await fetch(new URL(path, webug.url));
        const body = await res.text();
        assert.equal(res.status, 503, path);
        assert.equal(res.headers.get('retry-after'), '5', path);
        assert.match(body, /the database is unreachable; retry in a few seconds/, path);
        if (path.startsWith('/api/')) assert.equal((JSON.parse(body) as { kind: string }).kind, 'database-unreachable');
        const id = res.headers.get('x-request-id');
        assert.equal(lines.find((l) => l.requestId === id)?.level, 20, `${path}: the request's failure is logged at debug`);
      }
    } finally {
      await webug.close();
    }
    assert.deepEqual(loud(lines), [OUTAGE_STARTED]);
  });

  it('scruffy: every round fails and is logged at debug; the outage is one error line', async () => {
    const { bmdb, lines, logger } = await unreachable();
    const scruffy = new ScruffyExporter(bmdb, { registry: new Registry(), logger });
    for (let i = 0; i < 3; i++) assert.equal(await scruffy.collectOnce(), false);
    assert.ok(lines.some((l) => l.level === 20 && l.msg.startsWith('stats collection failed')), 'the rounds are logged at debug');
    assert.deepEqual(loud(lines), [OUTAGE_STARTED]);
  });
});
