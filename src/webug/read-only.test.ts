// webug writes nothing: it serves every page to a role that may only SELECT,
// and a GET on a database nobody migrated leaves it as empty as it was.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Registry } from 'prom-client';
import { describeBmdb } from '../../test/bmdb.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from '../../test/pg.ts';
import { openBmdb, type Bmdb, type Queryable } from '../bmdb/index.ts';
import { startWebug, type Webug } from './index.ts';
import { seedDemoFleet, type DemoFleet } from './testing/seed.ts';

const tableNames = async (db: Queryable) =>
  (await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)).rows.map((r) => String(r.table_name));

/** Every page and API endpoint webug has, with the demo fleet's ids filled in. */
function everyPath(f: DemoFleet): string[] {
  const audit = `process=ShepherdAgentStart&event=Failed&machine=${f.backingOff}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`;
  const fleet = ['', '?provider=Lumen&has=hardware_report&hb_older=30m', '?lacks=agent_heartbeat&work=any', '?backoff=ShepherdAgentStart', '?sort=heartbeat&dir=desc', '?sort=created&limit=2', '?q=eqx', `?q=${f.healthy.slice(0, 6)}`, '?q=147.75', '?hb_newer=1h&status=Running'];
  return [
    ...fleet.flatMap((q) => [`/${q}`, `/api/machines${q}`]),
    '/api/status',
    ...[f.healthy, f.busy, f.backingOff, f.silent, f.fresh, f.hostile, f.installed].flatMap((id) => [`/machines/${id}`, `/api/machines/${id}`]),
    '/sessions', '/api/sessions', `/sessions/${f.session}`, `/api/sessions/${f.session}`,
    '/audit', '/api/audit', `/audit?${audit}`, `/api/audit?${audit}&limit=1`,
    '/audit/export.csv', '/audit/export.json', `/audit/export.csv?${audit}&max=5`, `/audit/export.json?${audit}`,
  ];
}

describePostgres('webug as a role that may only SELECT', () => {
  let db: TestDatabase;
  let owner: Bmdb;
  let reader: Bmdb;
  let webug: Webug;
  let fleet: DemoFleet;
  const role = `webug_ro_${randomBytes(4).toString('hex')}`;

  before(async () => {
    db = await createTestDatabase();
    owner = await openBmdb({ url: db.url, migrate: true, metricsRegistry: new Registry() });
    fleet = await seedDemoFleet(owner.driver);
    const dbName = new URL(db.url).pathname.slice(1);
    await owner.driver.exec(`
      CREATE ROLE ${role} LOGIN;
      GRANT CONNECT ON DATABASE "${dbName}" TO ${role};
      REVOKE CREATE ON SCHEMA public FROM PUBLIC;
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role};`);
    const url = new URL(db.url);
    url.username = role;
    reader = await openBmdb({ url: url.toString(), migrate: false, metricsRegistry: new Registry() });
    webug = await startWebug({ bmdb: reader, listenAddress: '127.0.0.1:0' });
  });
  after(async () => {
    await webug?.close();
    await reader?.close();
    // Roles belong to the cluster: revoke what it was granted here, then drop it.
    await owner?.driver.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    await owner?.close();
    await db?.drop();
  });

  it('the role really cannot write', async () => {
    await assert.rejects(reader.driver.query('CREATE TABLE bmdb_migration_lock_probe (id int)'), /permission denied/);
    await assert.rejects(reader.driver.query(`UPDATE sessions SET session_runtime_info = 'x'`), /permission denied/);
  });

  it('serves every page and API endpoint with 200', async () => {
    const before = await tableNames(owner.driver);
    for (const path of everyPath(fleet)) {
      const res = await fetch(new URL(path, webug.url));
      const body = await res.text();
      assert.equal(res.status, 200, `${path}: ${body.slice(0, 300)}`);
    }
    assert.deepEqual(await tableNames(owner.driver), before);
  });
});

describeBmdb('webug on a database nobody migrated', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  const token = 'a-long-enough-test-token';
  before(async () => {
    bmdb = await open({ migrate: false });
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', token });
  });
  after(async () => {
    await webug?.close();
  });

  it('answers every GET without creating a table', async () => {
    const before = await tableNames(bmdb.driver);
    const get = (path: string, auth: boolean) => fetch(new URL(path, webug.url), auth ? { headers: { authorization: `Bearer ${token}` } } : {});
    assert.equal((await get('/', false)).status, 401);
    assert.equal((await get('/api/status', false)).status, 401);
    const status = await get('/api/status', true);
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { schemaVersion: number }).schemaVersion, 0);
    for (const path of ['/', '/api/machines', '/sessions', '/audit', '/audit/export.csv']) {
      const res = await get(path, true);
      assert.equal(res.status, 503, path);
      assert.match(await res.text(), /bmaas migrate up/);
    }
    assert.deepEqual(await tableNames(bmdb.driver), before);
    assert.equal(before.includes('bmdb_migrations'), false);
  });
});
