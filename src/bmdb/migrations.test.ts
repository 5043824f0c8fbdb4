import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { describeBmdb } from '../../test/bmdb.ts';
import { createTestDatabase, describePostgres } from '../../test/pg.ts';
import { openBmdb } from './connection.ts';
import { loadMigrations, migrationStatus } from './migrations.ts';
import { PROCESSES, PROVIDER_STATUSES, PROVIDERS, WORK_HISTORY_EVENTS } from './model.ts';

const LATEST = loadMigrations().length;
const BIN = path.join(import.meta.dirname, '../../bin/bmaas.js');

const DESIGN_TABLES = [
  'machine_agent_heartbeat',
  'machine_agent_started',
  'machine_hardware_report',
  'machine_os_installation_report',
  'machine_os_installation_request',
  'machine_provided',
  'machines',
  'sessions',
  'work',
  'work_backoff',
  'work_history',
];

describeBmdb('migrations', ({ open }) => {
  it('creates the tables of the data model (docs/architecture.md#data-model), and up again is a no-op', async () => {
    const bmdb = await open();
    const tables = await bmdb.driver.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`);
    const names = tables.rows.map((r) => r.table_name as string);
    for (const t of DESIGN_TABLES) assert.ok(names.includes(t), `missing table ${t}`);
    assert.deepEqual(await bmdb.migrateUp(), []);
    const status = await bmdb.migrationStatus();
    assert.equal(status.current, LATEST);
    assert.deepEqual(status.pending, []);
  });

  it('enum values in the database match the TypeScript model', async () => {
    const bmdb = await open();
    const values = async (type: string) =>
      (await bmdb.driver.query(`SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = $1 ORDER BY e.enumsortorder`, [type])).rows.map(
        (r) => r.enumlabel as string,
      );
    assert.deepEqual(await values('process'), [...PROCESSES]);
    assert.deepEqual(await values('provider'), [...PROVIDERS]);
    assert.deepEqual(await values('provider_status'), [...PROVIDER_STATUSES]);
    assert.deepEqual(await values('work_history_event'), [...WORK_HISTORY_EVENTS]);
  });

  it('up, down to empty, up again works', async () => {
    const bmdb = await open();
    assert.equal((await bmdb.migrateDown({ steps: LATEST })).length, LATEST);
    assert.equal((await bmdb.migrationStatus()).current, 0);
    const left = await bmdb.driver.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1)`, [DESIGN_TABLES]);
    assert.equal(left.rows[0]!.n, 0);
    assert.deepEqual(await bmdb.migrateDown(), []);
    assert.equal((await bmdb.migrateUp()).length, LATEST);
    assert.equal((await bmdb.migrationStatus()).current, LATEST);
  });

  it('status on a database nobody migrated writes nothing and says it is not initialised', async () => {
    const bmdb = await open({ migrate: false });
    const tables = async () =>
      (await bmdb.driver.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)).rows.map((r) => r.table_name);
    const before = await tables();
    const status = await bmdb.migrationStatus();
    assert.equal(status.initialised, false);
    assert.equal(status.current, 0);
    assert.equal(status.pending.length, LATEST);
    assert.deepEqual(await tables(), before, 'no bookkeeping table created');
    // And it is a pure read: it runs inside a READ ONLY transaction.
    const readOnlyStatus = () =>
      bmdb.driver.transaction(
        async (tx) => {
          await tx.query('SET TRANSACTION READ ONLY');
          return migrationStatus(tx);
        },
        { isolation: 'read committed' },
      );
    const inReadOnly = await readOnlyStatus();
    assert.equal(inReadOnly.initialised, false);
    await bmdb.migrateUp();
    const migrated = await readOnlyStatus();
    assert.deepEqual([migrated.initialised, migrated.current, migrated.pending], [true, LATEST, []]);
  });

  it('keeps working against a database one version newer, and refuses to migrate it down', async () => {
    const bmdb = await open();
    await bmdb.driver.query(`INSERT INTO bmdb_migrations (version, name) VALUES ($1, 'from_the_future')`, [LATEST + 1]);
    assert.deepEqual(await bmdb.migrateUp(), []);
    const s = await bmdb.startSession({ component: 't', processor: 'unittest' });
    await s.transact((q) => q.newMachine());
    await s.close();
    await assert.rejects(bmdb.migrateDown(), /newer than this build/);
  });
});

describePostgres('migrations under concurrency', () => {
  it('four connections migrating one fresh database at once all succeed, applying each step once', async () => {
    await using db = await createTestDatabase();
    const all = await Promise.all([0, 1, 2, 3].map(() => openBmdb({ url: db.url, migrate: true })));
    const bmdb = all[0]!;
    const rows = await bmdb.driver.query('SELECT version FROM bmdb_migrations ORDER BY version');
    assert.deepEqual(rows.rows.map((r) => r.version), Array.from({ length: LATEST }, (_, i) => i + 1));
    for (const b of all) await b.close();
  });

  it('two `bmaas migrate up` processes at once both exit 0; a third reports nothing to apply', async () => {
    await using db = await createTestDatabase();
    const run = () => promisify(execFile)(process.execPath, [BIN, 'migrate', 'up', '--bmdb-url', db.url, '--log-level', 'warn']);
    const [a, b] = await Promise.all([run(), run()]);
    const outputs = [a.stdout, b.stdout].sort();
    assert.match(outputs.join('\n'), new RegExp(`schema version is (now )?${LATEST}`));
    const again = await run();
    assert.equal(again.stdout.trim(), `nothing to apply; schema version is ${LATEST}`);
  });
});
