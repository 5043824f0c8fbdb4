// The PostgreSQL driver's transactions send BEGIN with the first statement,
// COMMIT with a statement that says so, and batches in one round trip
// (pg-pipeline.ts): the transaction semantics must be those of one statement
// after the other, errors and prepared statements included.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pino from 'pino';
import { createTestDatabase, describePostgres, type TestDatabase } from '../../test/pg.ts';
import { PgDriver } from './driver-pg.ts';
import { queryAll } from './driver.ts';

describePostgres('pipelined transactions', () => {
  let db: TestDatabase;
  let driver: PgDriver;
  before(async () => {
    db = await createTestDatabase();
    // One connection: every transaction reuses the prepared statements of the one before.
    driver = new PgDriver({ url: db.url, maxConnections: 1, logger: pino({ level: 'silent' }) });
    await driver.exec('CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)');
  });
  after(async () => {
    await driver.close();
    await db.drop();
  });
  const rows = async () => (await driver.query('SELECT id, v FROM t ORDER BY id')).rows;
  const insert = 'INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id';

  it('runs the first statement inside the transaction it begins, at the isolation level asked for', async () => {
    const level = await driver.transaction(async (tx) => (await tx.query('SELECT current_setting($1) AS l', ['transaction_isolation'])).rows[0]!.l, { isolation: 'serializable' });
    assert.equal(level, 'serializable');
    await assert.rejects(
      driver.transaction(async (tx) => {
        await tx.query(insert, [1, 'a']);
        throw new Error('give up');
      }, { isolation: 'read committed' }),
      /give up/,
    );
    assert.deepEqual(await rows(), []);
  });

  it('commits with a statement marked commits, even when the function throws afterwards', async () => {
    await assert.rejects(
      driver.transaction(async (tx) => {
        const r = await tx.query(insert, [2, 'b'], { commits: true });
        assert.equal(r.rows[0]!.id, 2);
        throw new Error('after the commit');
      }, { isolation: 'read committed' }),
      /after the commit/,
    );
    assert.deepEqual(await rows(), [{ id: 2, v: 'b' }]);
    await assert.rejects(
      driver.transaction(async (tx) => {
        await tx.query(insert, [3, 'c'], { commits: true });
        await tx.query(insert, [4, 'd']);
      }, { isolation: 'read committed' }),
      /no statement may follow/,
    );
    assert.deepEqual(await rows(), [{ id: 2, v: 'b' }, { id: 3, v: 'c' }]);
  });

  it('a failing statement that was to commit leaves nothing written and the connection usable', async () => {
    await assert.rejects(
      driver.transaction(async (tx) => {
        await tx.query(insert, [5, 'e']);
        await tx.query(insert, [2, 'duplicate'], { commits: true });
      }, { isolation: 'read committed' }),
      { code: '23505' },
    );
    assert.deepEqual(await rows(), [{ id: 2, v: 'b' }, { id: 3, v: 'c' }]);
  });

  it('a batch runs in order, sees its own writes, stops at the first error, and its statements stay prepared', async () => {
    const select = { sql: 'SELECT count(*)::int AS n FROM t WHERE id >= $1', params: [10] };
    const results = await driver.transaction(
      (tx) => queryAll(tx, [{ sql: insert, params: [10, 'x'] }, { sql: insert, params: [11, 'y'] }, select]),
      { isolation: 'read committed' },
    );
    assert.deepEqual(results.map((r) => r.rows), [[{ id: 10 }], [{ id: 11 }], [{ n: 2 }]]);
    // The second statement fails after the first was parsed and ran: nothing stays, and
    // both are prepared on the connection for the next transaction.
    await assert.rejects(
      driver.transaction((tx) => queryAll(tx, [{ sql: insert, params: [12, 'z'] }, { sql: insert, params: [10, 'again'] }, select]), { isolation: 'serializable' }),
      { code: '23505' },
    );
    const again = await driver.transaction((tx) => queryAll(tx, [{ sql: insert, params: [13, 'w'] }, select], { commits: true }), { isolation: 'serializable' });
    assert.deepEqual(again.map((r) => r.rows), [[{ id: 13 }], [{ n: 3 }]]);
    assert.deepEqual((await rows()).map((r) => r.id), [2, 3, 10, 11, 13]);
  });

  it('a statement that fails to parse is parsed again next time, not taken for prepared', async () => {
    const bad = 'SELECT no_such_column FROM t WHERE id = $1';
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        driver.transaction((tx) => queryAll(tx, [{ sql: 'SELECT 1 AS one WHERE $1::int > 0', params: [1] }, { sql: bad, params: [1] }]), { isolation: 'read committed' }),
        { code: '42703' },
      );
    }
    const r = await driver.transaction((tx) => tx.query('SELECT 1 AS one WHERE $1::int > 0', [1]), { isolation: 'read committed' });
    assert.deepEqual(r.rows, [{ one: 1 }]);
  });

  it('a transaction with no statement sends nothing', async () => {
    assert.equal(await driver.transaction(async () => 'nothing', { isolation: 'serializable' }), 'nothing');
    assert.deepEqual((await driver.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  });
});
