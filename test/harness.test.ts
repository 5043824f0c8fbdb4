// Self-test of the PostgreSQL harness: fresh databases are distinct, usable, and gone after drop.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, describePostgres } from './pg.ts';

async function currentDatabase(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    return rows[0]!.name;
  } finally {
    await client.end();
  }
}

async function databaseExists(adminishUrl: string, name: string): Promise<boolean> {
  const url = new URL(adminishUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describePostgres('test harness', () => {
  void it('creates two distinct databases that accept connections', async () => {
    await using first = await createTestDatabase();
    await using second = await createTestDatabase();
    assert.notEqual(first.url, second.url);
    const [a, b] = await Promise.all([currentDatabase(first.url), currentDatabase(second.url)]);
    assert.notEqual(a, b);
    assert.equal(new URL(first.url).pathname, `/${a}`);
    assert.equal(new URL(second.url).pathname, `/${b}`);
  });

  void it('drop removes the database even with a connection still open', async () => {
    const db = await createTestDatabase();
    const name = await currentDatabase(db.url);
    const lingering = new pg.Client({ connectionString: db.url });
    lingering.on('error', () => undefined); // it is expected to be terminated by the drop
    await lingering.connect();
    try {
      assert.equal(await databaseExists(db.url, name), true);
      await db.drop();
      assert.equal(await databaseExists(db.url, name), false);
      await db.drop(); // a second drop is a no-op
    } finally {
      await lingering.end().catch(() => undefined);
    }
  });
});
