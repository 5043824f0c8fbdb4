import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAuditQuery, parseAuditFilter } from './audit.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { authenticate } from './auth.ts';
import { BadRequestError, WebugConfigError } from './errors.ts';
import { buildFleetQuery, fleetCursor, fleetFilterQuery, parseFleetFilter } from './fleet-query.ts';
import { href } from './html.ts';
import { startWebug } from './index.ts';
import { uuidPrefixRange } from './params.ts';
import type { IncomingMessage } from 'node:http';

const TAGS = ['provided', 'agent_started', 'agent_heartbeat'];
const parse = (q: string) => parseFleetFilter(new URLSearchParams(q), TAGS);

describe('fleet filter parsing and SQL', () => {
  it('defaults to the first page by machine id with no conditions', () => {
    const f = parse('');
    assert.equal(f.sort, 'id');
    assert.equal(f.limit, 50);
    const q = buildFleetQuery(f);
    assert.ok(!q.sql.includes('WHERE'));
    assert.match(q.sql, /ORDER BY m\.machine_id ASC\nLIMIT \$1::int$/);
    assert.deepEqual(q.params, [51]);
  });
  it('turns every filter into a parameterized condition', () => {
    const f = parse('provider=Lumen&status=Running&has=agent_started&lacks=agent_heartbeat&work=ShepherdRecovery&backoff=any&hb_older=10m&q=10.0.');
    const q = buildFleetQuery(f);
    assert.match(q.sql, /mp\.provider = \$\d+::provider/);
    assert.match(q.sql, /EXISTS \(SELECT 1 FROM "machine_agent_started" t/);
    assert.match(q.sql, /NOT EXISTS \(SELECT 1 FROM "machine_agent_heartbeat" t/);
    assert.match(q.sql, /w\.process = \$\d+::process/);
    assert.match(q.sql, /b\.until > now\(\)/);
    assert.match(q.sql, /h\.agent_heartbeat_at < now\(\) - \$\d+::bigint/);
    assert.ok(q.params.includes('Lumen') && q.params.includes('ShepherdRecovery') && q.params.includes(600_000) && q.params.includes('10.0.%'));
    assert.ok(!q.sql.includes('10.0.'), 'search text never enters the SQL text');
  });
  it('rejects unknown tags, providers and bad durations as bad requests', () => {
    assert.throws(() => parse('has=machines; DROP TABLE machines'), BadRequestError);
    assert.throws(() => parse('provider=Nope'), BadRequestError);
    assert.throws(() => parse('hb_older=soon'), BadRequestError);
    assert.throws(() => parse('after=garbage'), BadRequestError);
  });
  it('caps the page size', () => {
    assert.equal(parse('limit=100000').limit, 500);
    assert.equal(parse('limit=0').limit, 1);
  });
  it('round-trips the filter through links', () => {
    const f = parse('provider=Equinix&has=provided&sort=heartbeat&dir=desc&hb_newer=1m');
    assert.deepEqual(parse(href('/', fleetFilterQuery(f)).split('?')[1]!), f);
  });
  it('keyset pages on (sort key, machine id) with the direction of the sort', () => {
    const cursor = fleetCursor({ machine_id: '00000000-0000-0000-0000-000000000001', sort_key: '2025-01-01 00:00:00.123456+00' });
    const q = buildFleetQuery(parse(`sort=heartbeat&dir=desc&after=${cursor}`));
    assert.match(q.sql, /\(h\.agent_heartbeat_at, m\.machine_id\) < \(\$\d::timestamptz, \$\d::uuid\)/);
    assert.match(q.sql, /ORDER BY h\.agent_heartbeat_at DESC, m\.machine_id DESC/);
    assert.ok(q.params.includes('2025-01-01 00:00:00.123456+00'));
  });
  it('searches machine id prefixes as an index range', () => {
    assert.deepEqual(uuidPrefixRange('3FA8-5f'), { lo: '3fa85f00-0000-0000-0000-000000000000', hi: '3fa85fff-ffff-ffff-ffff-ffffffffffff' });
    assert.equal(uuidPrefixRange('10.0.0.1'), undefined);
    const q = buildFleetQuery(parse('q=3fa8'));
    assert.match(q.sql, /machine_id BETWEEN \$1::uuid AND \$2::uuid/);
  });
  it('escapes LIKE wildcards in search text', () => {
    const q = buildFleetQuery(parse('q=a%25_b'));
    assert.ok(q.params.includes('a\\%\\_b%'));
  });
});

describe('audit filter', () => {
  it('builds a keyset query newest first with every filter parameterized', () => {
    const f = parseAuditFilter(new URLSearchParams('process=ShepherdRecovery&event=Failed&machine=00000000-0000-0000-0000-00000000000a&from=2025-01-01T00:00:00Z'));
    const q = buildAuditQuery(f, 101);
    assert.match(q.sql, /ORDER BY timestamp DESC/);
    assert.equal(q.params.length, 5);
    assert.throws(() => parseAuditFilter(new URLSearchParams('machine=not-a-uuid')), BadRequestError);
    assert.throws(() => parseAuditFilter(new URLSearchParams('from=yesterday')), BadRequestError);
  });
});

describe('listen address and authentication', () => {
  it('refuses a malformed address, and every non-loopback one without a token, before touching the database', async () => {
    const bmdb = {} as Bmdb;
    for (const listenAddress of ['8081', '127.0.0.1:65536', '[::1:8081']) {
      await assert.rejects(startWebug({ bmdb, listenAddress }), (err: Error) => err instanceof WebugConfigError && /invalid webug listen address/.test(err.message));
    }
    for (const listenAddress of [':0', '0.0.0.0:0', '[::]:0', '192.0.2.1:0']) {
      await assert.rejects(startWebug({ bmdb, listenAddress }), /without a token/, listenAddress);
    }
  });
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const url = (q = '') => new URL(`http://x/machines${q}`);
  const token = 'correct-horse-battery-staple';
  it('accepts the token as bearer, basic password, cookie, or once in the query', () => {
    assert.equal(authenticate(req({}), url(), undefined).kind, 'ok');
    assert.equal(authenticate(req({}), url(), token).kind, 'denied');
    assert.equal(authenticate(req({ authorization: `Bearer ${token}` }), url(), token).kind, 'ok');
    assert.equal(authenticate(req({ authorization: `Bearer wrong` }), url(), token).kind, 'denied');
    assert.equal(authenticate(req({ authorization: `Basic ${Buffer.from(`ops:${token}`).toString('base64')}` }), url(), token).kind, 'ok');
    assert.equal(authenticate(req({ cookie: `a=b; webug_token=${token}` }), url(), token).kind, 'ok');
    const r = authenticate(req({}), url(`?x=1&token=${token}`), token);
    assert.equal(r.kind, 'set-cookie');
    assert.equal(r.kind === 'set-cookie' && r.location, '/machines?x=1');
  });
  it('redirects after a token login only to a path on the same origin', () => {
    for (const path of ['/.//evil.example/', '//evil.example/', '/\\evil.example/', '/./\\/evil.example/']) {
      const r = authenticate(req({}), new URL(`http://webug.invalid${path}?token=${token}`), token);
      assert.equal(r.kind, 'set-cookie');
      const location = r.kind === 'set-cookie' ? r.location : '';
      assert.match(location, /^\/[^/\\]/, `${path} -> ${location}`);
      assert.equal(new URL(location, 'http://webug.invalid/').host, 'webug.invalid');
    }
  });
});
