// `bmaas db roles`: prints the SQL for a database, and --apply creates roles that log in.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import pg from 'pg';
import { openBmdb, ROLE_GRANTS } from '../src/bmdb/index.ts';
import { runBmaas } from '../src/shepherd/testing/index.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from './pg.ts';

describePostgres('bmaas db roles', () => {
  let db: TestDatabase | undefined;
  const prefix = `c${randomBytes(3).toString('hex')}_`;
  after(async () => {
    await db?.drop();
    if (!db) return;
    const u = new URL(db.url);
    u.pathname = '/postgres';
    const client = new pg.Client({ connectionString: u.toString() });
    await client.connect();
    for (const s of ROLE_GRANTS) await client.query(`DROP ROLE IF EXISTS "${prefix}${s.component}"`);
    await client.end();
  });

  it('prints the SQL, applies it, and the roles log in', async () => {
    db = await createTestDatabase();
    await (await openBmdb({ url: db.url, migrate: true })).close();
    const printed = await runBmaas(['db', 'roles', '--bmdb-url', db.url, '--role-prefix', prefix], { timeoutMs: 60_000 });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`^CREATE ROLE "${prefix}server" LOGIN;$`, 'm'));
    assert.match(printed.stdout, new RegExp(`^GRANT SELECT, INSERT, UPDATE ON "public"."machine_agent_heartbeat" TO "${prefix}server";$`, 'm'));
    assert.match(printed.stdout, /^COMMIT;$/m);
    const applied = await runBmaas(['db', 'roles', '--apply', '--bmdb-url', db.url, '--role-prefix', prefix], { timeoutMs: 60_000 });
    assert.equal(applied.code, 0, applied.stderr);
    const again = await runBmaas(['db', 'roles', '--apply', '--bmdb-url', db.url, '--role-prefix', prefix], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, `idempotent: ${again.stderr}`);
    const u = new URL(db.url);
    u.username = `${prefix}webug`;
    await using webug = await openBmdb({ url: u.toString() });
    assert.equal((await webug.driver.query('SELECT current_user AS u')).rows[0]!.u, `${prefix}webug`);
    const bad = await runBmaas(['db', 'roles', '--bmdb-url', 'pglite://memory'], { timeoutMs: 60_000 });
    assert.equal(bad.code, 2, bad.stderr);
  });
});
