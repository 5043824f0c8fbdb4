// Fuzzing webug's paths and query parameters: thousands of generated requests
// (a fixed seed, so a failure replays) must get no 5xx and no database text.
// PGlite only: fast, and it speaks PostgreSQL's error messages.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { openBmdb, PROCESSES, PROVIDER_STATUSES, PROVIDERS, WORK_HISTORY_EVENTS, type Bmdb } from '../bmdb/index.ts';
import { startWebug, type Webug } from './index.ts';
import { encodeCursor } from './params.ts';
import { LEAKS } from './testing/leaks.ts';
import { seedDemoFleet, type DemoFleet } from './testing/seed.ts';

const SEED = 0x5eed_0b1d;
const REQUESTS = 3000;
const TIME_BUDGET_MS = 20_000;
const PARALLEL = 8;

/** Deterministic numbers in [0, 1): successive SHA-256 blocks of seed and counter, eight per block. */
function prng(seed: number): () => number {
  let block = Buffer.alloc(0);
  let n = 0;
  return () => {
    if (n % 8 === 0) block = createHash('sha256').update(`${seed}:${n / 8}`).digest();
    return block.readUInt32BE(4 * (n++ % 8)) / 2 ** 32;
  };
}

function generator(fleet: DemoFleet, rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  const ids = [fleet.healthy, fleet.busy, fleet.backingOff, fleet.silent, fleet.fresh, fleet.hostile, fleet.installed, fleet.session];
  const randomText = (max: number) => Array.from({ length: int(max) }, () => String.fromCodePoint(pick([int(0x80), int(0x80), int(0x800), int(0xd7ff), 0, 0x7f, 0xfffd]))).join('');
  const timestamp = () => pick(['2025-01-01 00:00:00+00', '2025-06-01 12:00:00.123456+05:30', '9999-12-31 23:59:59+00', '0001-01-01 00:00:00+00', '2025-02-29 00:00:00+00', '2024-02-29 24:00:00+00', 'now', '', randomText(30)]);
  const cursorPart = (): unknown => pick([null, pick(ids), timestamp(), pick(PROCESSES), pick(WORK_HISTORY_EVENTS), randomText(20), 42, [], {}, 'x'.repeat(300)]);
  const values: Array<() => string> = [
    () => '',
    () => randomText(12),
    () => randomText(300),
    () => String(int(10 ** int(25))),
    () => `-${int(1000)}`,
    () => pick(['0', '1', '1e309', 'NaN', 'Infinity', '0x10', '1.5', '00000000000000000000001']),
    () => `${int(10 ** int(14))}${pick(['ms', 's', 'm', 'h', 'd', 'y', ''])}`,
    () => pick(['1h30m', '0.5s', '9999999999h', '1e3h', '.h', '10m10m']),
    () => pick(['2025-01-31T12:00:00Z', '-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '2025-13-45', '1', 'yesterday']),
    () => pick(ids),
    () => pick(ids).slice(0, int(37)),
    () => pick([...PROVIDERS, ...PROVIDER_STATUSES, ...PROCESSES, ...WORK_HISTORY_EVENTS, 'any', 'none', 'asc', 'desc', 'id', 'heartbeat', 'created']),
    () => pick(['provided', 'agent_heartbeat', 'hardware_report', 'nonsense', 'provided"; DROP TABLE machines; --', '../etc']),
    () => pick(["' OR 1=1 --", '%', '_', '\\', '\\%', "'; SELECT pg_sleep(10); --", '$1', '::uuid', 'NULL']),
    () => encodeCursor(Array.from({ length: pick([2, 4]) }, cursorPart) as (string | null)[]),
    () => Buffer.from(JSON.stringify(Array.from({ length: int(6) }, cursorPart))).toString('base64url'),
    () => Buffer.from(randomText(40)).toString(pick(['base64url', 'base64', 'hex'] as const)),
  ];
  const names = ['q', 'provider', 'status', 'has', 'lacks', 'work', 'backoff', 'hb_older', 'hb_newer', 'sort', 'dir', 'limit', 'after', 'before', 'process', 'event', 'machine', 'from', 'to', 'max', 'token', 'selector', 'x'];
  const routes = ['/', '/api/machines', '/api/status', '/sessions', '/api/sessions', '/audit', '/api/audit', '/audit/export.csv', '/audit/export.json', '/machines/', '/api/machines/', '/sessions/', '/api/sessions/', '/api/resolve'];
  const pathTail = () =>
    pick<() => string>([
      () => pick(ids),
      () => pick(ids).toUpperCase(),
      () => pick(['%E0%A4%A', '%ZZ', '%', '%00', '%2F', '%C0%AF', '..', '.', '%2e%2e', '//evil.example', '\\evil']),
      () => encodeURIComponent(randomText(20)),
      () => `${pick(ids)}/${encodeURIComponent(randomText(5))}`,
    ])();
  const encode = (s: string) => (rand() < 0.1 ? s.replace(/[^A-Za-z0-9]/g, (c) => pick([`%${c.charCodeAt(0).toString(16)}`, '%', '%G'])) : encodeURIComponent(s));
  return (): string => {
    let path = pick(routes);
    if (path.endsWith('/') && path !== '/') path += pathTail();
    else if (rand() < 0.05) path = `${pick(['/./', '//', '/../', '/.//'])}${path.slice(1)}`;
    const params = Array.from({ length: int(5) }, () => `${rand() < 0.9 ? pick(names) : encode(randomText(6))}=${encode(pick(values)())}`);
    return params.length ? `${path}?${params.join('&')}` : path;
  };
}

describe('[pglite] webug fuzz', () => {
  let bmdb: Bmdb;
  let webug: Webug;
  let fleet: DemoFleet;
  const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });
  before(async () => {
    bmdb = await openBmdb({ url: 'pglite://memory', migrate: true, metricsRegistry: new Registry() });
    fleet = await seedDemoFleet(bmdb.driver);
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0' });
  });
  after(async () => {
    agent.destroy();
    await webug?.close();
    await bmdb?.close();
  });

  const get = (base: URL, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: base.hostname, port: base.port, path, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject).end();
    });

  const ERROR_KINDS = new Set(['bad-request', 'unauthenticated', 'forbidden', 'not-found', 'conflict', 'no-schema', 'internal', 'unknown-machine', 'ambiguous-machine', 'unknown-action', 'bad-argument', 'refused']);

  it(`${REQUESTS} generated requests (seed ${SEED}): no 5xx, no database text`, async (t) => {
    const next = generator(fleet, prng(SEED));
    const paths = Array.from({ length: REQUESTS }, next);
    const base = new URL(webug.url);
    const deadline = Date.now() + TIME_BUDGET_MS;
    const statuses = new Map<number, number>();
    let done = 0;
    const worker = async () => {
      while (done < paths.length && Date.now() < deadline) {
        const path = paths[done++]!;
        let res: { status: number; body: string };
        try {
          res = await get(base, path);
        } catch (err) {
          assert.fail(`${path}: the connection failed: ${(err as Error).message}`);
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `${path}: ${res.status} ${res.body.slice(0, 300)}`);
        assert.doesNotMatch(res.body, LEAKS, path);
        if (res.status >= 400 && path.startsWith('/api/')) {
          // An error body's kind comes from a closed list, never from an error's own name.
          const { kind } = JSON.parse(res.body) as { kind?: string };
          assert.ok(kind !== undefined && ERROR_KINDS.has(kind), `${path}: kind ${kind}`);
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    t.diagnostic(`${done} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(done >= 300, `only ${done} requests within ${TIME_BUDGET_MS} ms`);
    assert.ok((statuses.get(200) ?? 0) > done / 20, `enough requests are valid to reach the queries: ${JSON.stringify([...statuses])}`);
  });
});
