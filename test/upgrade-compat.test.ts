// The upgrade order of docs/deploying.md#upgrades: migrate first, and the
// previous release runs against the new schema. No older release's code is
// run here (no git history or tags needed); the promise is checked from the
// other side. This release's components, as processes under their roles, start
// on a schema one release newer than they know: every migration of this build
// plus a synthetic "next release" migration with every additive kind our
// migrations allow, and rows the next release would write with its new enum
// values. Each must start, do its work, and `bmaas migrate` must report the
// newer version without touching it. The static half checks that every up
// migration of this build is additive, which is what makes the same true of
// the release before it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMigrations, openBmdb, type Migration } from '../src/bmdb/index.ts';
import { migrateUp } from '../src/bmdb/migrations.ts';
import { runBmaas, type BmaasProcess } from '../src/shepherd/testing/index.ts';
import { startComponents, warnings } from './faults/component-stand.ts';
import { reportFigure } from './faults/figure.ts';
import { startShepherdStand, type ShepherdStand } from './faults/shepherd-stand.ts';
import { findNonAdditive, type NonAdditiveRule } from './migration-additive.ts';
import { describePostgres } from './pg.ts';
import { describeSshd } from './sshd.ts';

const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'src', 'bmdb', 'migrations');
const KNOWN = loadMigrations();
const LATEST = KNOWN.length;

/**
 * Up migrations allowed to break the rule, each with the reason an older
 * release still works on its result. Empty: none does. An entry that no longer
 * matches a finding fails the test, so the list cannot go stale.
 */
const ALLOWED_EXCEPTIONS: ReadonlyArray<{ readonly file: string; readonly rule: NonAdditiveRule; readonly why: string }> = [];

/** The next release's migration: one of every additive change. */
const NEXT_RELEASE: Migration = {
  version: LATEST + 1,
  name: 'next_release_synthetic',
  up: `
    -- A new tag (webug discovers machine_* tables) with a type of its own, and a table that is no tag.
    CREATE TYPE next_release_colour AS ENUM ('Red', 'Green');
    CREATE TABLE machine_next_release_tag (
      machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
      colour next_release_colour NOT NULL,
      note text NULL,
      next_release_raw bytea NULL,
      tagged_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE next_release_settings (name text PRIMARY KEY, value jsonb NOT NULL DEFAULT '{}'::jsonb);
    -- Columns on existing tables the current release reads and writes: nullable, or NOT NULL with a default.
    ALTER TABLE machines ADD COLUMN machine_next_label text NULL;
    ALTER TABLE machines ADD COLUMN machine_next_generation integer NOT NULL DEFAULT 0;
    ALTER TABLE machine_provided ADD COLUMN provider_next_rack text NULL, ADD COLUMN provider_next_weight integer NOT NULL DEFAULT 1;
    ALTER TABLE machine_agent_started ADD COLUMN agent_next_version text NOT NULL DEFAULT 'unknown';
    ALTER TABLE machine_agent_heartbeat ADD COLUMN agent_next_uptime_seconds bigint NULL;
    ALTER TABLE sessions ADD COLUMN session_next_release text NOT NULL DEFAULT '';
    ALTER TABLE work_history ADD COLUMN next_detail jsonb NULL;
    ALTER TABLE work_backoff ADD COLUMN next_attempts integer NOT NULL DEFAULT 0;
    -- Indexes.
    CREATE INDEX machines_next_label ON machines (machine_next_label);
    CREATE INDEX work_history_process_event ON work_history (process, event);
    -- Values on every enum the code reads.
    ALTER TYPE process ADD VALUE 'ShepherdNextRelease';
    ALTER TYPE work_history_event ADD VALUE 'Paused';
    ALTER TYPE provider ADD VALUE 'NextCloud';
    ALTER TYPE provider_status ADD VALUE 'Hibernating';
    ALTER TYPE os_installation_result ADD VALUE 'Partial';
  `,
  down: '-- never run: the current release refuses to migrate down a schema newer than it knows',
};

/** A second step of the next release, migrated while this release's components run. */
const WHILE_RUNNING: Migration = {
  version: LATEST + 2,
  name: 'next_release_while_running',
  up: `
    ALTER TABLE machine_agent_heartbeat ADD COLUMN agent_next_load real NOT NULL DEFAULT 0;
    ALTER TABLE machine_provided ADD COLUMN provider_next_zone text NULL;
    CREATE INDEX machine_agent_started_at ON machine_agent_started (agent_started_at);
    ALTER TYPE process ADD VALUE 'ShepherdNextAudit';
  `,
  down: NEXT_RELEASE.down,
};

/** What the next release writes with its new values: a machine of the new provider, its new tag, work, backoff and history. */
const NEXT_RELEASE_ROWS = `
  WITH m AS (INSERT INTO machines (machine_next_label, machine_next_generation) VALUES ('next', 2) RETURNING machine_id),
  p AS (INSERT INTO machine_provided (machine_id, provider, provider_id, provider_status, provider_next_rack) SELECT machine_id, 'NextCloud', 'next-1', 'Hibernating', 'r7' FROM m),
  t AS (INSERT INTO machine_next_release_tag (machine_id, colour, note, next_release_raw) SELECT machine_id, 'Green', 'from the next release', '\\x0a0b'::bytea FROM m),
  s AS (INSERT INTO sessions (session_component_name, session_runtime_info, session_interval_seconds, session_deadline, session_next_release)
        VALUES ('shepherd', 'next release', 5, now() + interval '1 hour', 'next') RETURNING session_id),
  w AS (INSERT INTO work (machine_id, session_id, process) SELECT machine_id, session_id, 'ShepherdNextRelease' FROM m, s),
  b AS (INSERT INTO work_backoff (machine_id, process, until, cause, next_attempts) SELECT machine_id, 'ShepherdNextRelease', now() + interval '1 hour', 'next release cause', 3 FROM m),
  h AS (INSERT INTO work_history (machine_id, process, event, timestamp, next_detail)
        SELECT machine_id, 'ShepherdNextRelease', e.event::work_history_event, now() - e.ago, '{"next": true}' FROM m,
          (VALUES ('Started', interval '2 seconds'), ('Paused', interval '1 second')) AS e (event, ago))
  SELECT m.machine_id, s.session_id FROM m, s`;

describe('migrations are additive (docs/deploying.md#upgrades)', () => {
  it('no up migration drops, renames, retypes or adds a NOT NULL column without a default to an existing table', () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.up.sql')).sort();
    assert.equal(files.length, LATEST);
    const found = files.flatMap((file) => findNonAdditive(readFileSync(join(MIGRATIONS_DIR, file), 'utf8')).map((f) => ({ file, ...f })));
    const allowed = (f: { file: string; rule: NonAdditiveRule }) => ALLOWED_EXCEPTIONS.some((a) => a.file === f.file && a.rule === f.rule);
    assert.deepEqual(found.filter((f) => !allowed(f)), [], 'a migration takes something away from the release before it; make it additive (or argue for an ALLOWED_EXCEPTIONS entry)');
    for (const a of ALLOWED_EXCEPTIONS) assert.ok(found.some((f) => f.file === a.file && f.rule === a.rule), `stale ALLOWED_EXCEPTIONS entry: ${a.file} (${a.rule})`);
  });

  it('the check flags each kind of removal and passes the synthetic next release', () => {
    const flagged: Array<[string, NonAdditiveRule]> = [
      ['DROP TABLE machine_provided', 'drop'],
      ['ALTER TABLE machines DROP COLUMN machine_created_at', 'drop'],
      ['ALTER TABLE machines ADD COLUMN a text NULL, DROP COLUMN b', 'drop'],
      ['ALTER TABLE sessions ALTER COLUMN session_deadline DROP DEFAULT', 'drop'],
      ['DROP INDEX work_session_id', 'drop'],
      ['ALTER TABLE work RENAME COLUMN process TO proc', 'rename'],
      ["ALTER TYPE process RENAME VALUE 'UnitTest1' TO 'Unit'", 'rename'],
      ['ALTER TABLE machine_provided ALTER COLUMN provider_id TYPE text', 'column type'],
      ['ALTER TABLE machine_provided ALTER provider_id SET DATA TYPE text', 'column type'],
      ['ALTER TABLE machines ADD COLUMN owner text NOT NULL', 'not null without default'],
      ['ALTER TABLE machine_provided ALTER COLUMN provider_location SET NOT NULL', 'not null without default'],
      ['ALTER TABLE work ADD CONSTRAINT one_per_session UNIQUE (session_id)', 'new constraint on an existing table'],
      ['CREATE UNIQUE INDEX one_key ON machine_agent_started (agent_public_key)', 'new constraint on an existing table'],
    ];
    for (const [sql, rule] of flagged) assert.deepEqual(findNonAdditive(`-- a comment; with a semicolon\n${sql};`).map((f) => f.rule), [rule], sql);
    const fine = `CREATE TABLE t (a int); ALTER TABLE t ADD COLUMN b int NOT NULL; CREATE UNIQUE INDEX t_a ON t (a); INSERT INTO x VALUES ('DROP TABLE y; RENAME')`;
    assert.deepEqual(findNonAdditive(fine), [], 'changes to a table the same file creates, and words inside literals, are fine');
    assert.deepEqual(findNonAdditive(NEXT_RELEASE.up), []);
  });
});

describeSshd('upgrade compatibility', () => {
  describePostgres('the current release on the next release\'s schema', () => {
    let stand: ShepherdStand | undefined;
    const procs: BmaasProcess[] = [];
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await stand?.close();
    });

    it('shepherd, server, webug and scruffy start and work, and `bmaas migrate` reports the newer version and leaves it alone', { timeout: 60_000 }, async (t) => {
      const started = Date.now();
      stand = await startShepherdStand({ machines: 1, hang: 'never' });
      const { db, admin } = stand;

      // 1. The next release migrates (as the migrator, through the same code path) and writes rows of its own.
      const nextReleaseMigrates = async (migrations: Migration[]): Promise<number[]> => {
        await using migrator = await openBmdb({ url: db.url('migrator') });
        return await migrateUp(migrator.driver, { migrations: [...KNOWN, ...migrations] });
      };
      assert.deepEqual(await nextReleaseMigrates([NEXT_RELEASE]), [LATEST + 1]);
      const seeded = (await admin.query<{ machine_id: string; session_id: string }>(NEXT_RELEASE_ROWS)).rows[0]!;
      // 2. `bmaas db roles --apply` of this release, on a schema with a table it does not know.
      const roles = await runBmaas(['db', 'roles', '--apply', '--role-prefix', db.prefix, '--bmdb-url', db.adminUrl, '--log-level', 'warn']);
      assert.equal(roles.code, 0, roles.stderr);

      // 3. This release's components start on it and each does its work.
      const components = await startComponents(stand, { url: (c) => db.url(c), adminUrl: () => db.adminUrl, track: (p) => procs.push(p) });
      const { all, logs } = components;
      const heartbeats = Number((await admin.query('SELECT count(*)::int AS n FROM machine_agent_heartbeat')).rows[0].n);
      assert.ok(heartbeats >= 1, 'a heartbeat through the server is stored');
      const workingAfter = Date.now() - started;

      // webug: every page that shows next-release rows answers 200.
      const base = /webug: (http\S+)/.exec(all.webug.stdout())![1]!.replace(/\/$/, '');
      const get = async (path: string): Promise<string> => {
        const r = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
        const body = await r.text();
        assert.equal(r.status, 200, `GET ${path}: ${body.slice(0, 500)}\n${logs()}`);
        return body;
      };
      const status = JSON.parse(await get('/api/status')) as { schemaVersion: number; latestKnownVersion: number; tags: Array<{ name: string; count: number }> };
      assert.deepEqual([status.schemaVersion, status.latestKnownVersion], [LATEST + 1, LATEST]);
      assert.equal(status.tags.find((tag) => tag.name === 'next_release_tag')?.count, 1, 'the new tag is discovered');
      const taken = (await admin.query<{ machine_id: string }>('SELECT machine_id FROM machine_agent_started JOIN machine_provided USING (machine_id) LIMIT 1')).rows[0]!.machine_id;
      for (const path of ['/', '/?provider=None', '/sessions', `/sessions/${seeded.session_id}`, '/audit', '/audit/export.csv', `/machines/${taken}`, `/api/machines/${taken}`]) await get(path);
      const page = await get(`/machines/${seeded.machine_id}`);
      for (const text of ['next_release_tag', 'Green', 'NextCloud', 'Hibernating', 'ShepherdNextRelease', 'Paused']) assert.ok(page.includes(text), `the machine page shows ${text}`);
      // Paging the audit trail past a row with the next release's process and event.
      const first = JSON.parse(await get(`/api/audit?machine=${seeded.machine_id}&limit=1`)) as { rows: Array<{ event: string }>; next: string | null };
      assert.equal(first.rows[0]?.event, 'Paused');
      assert.ok(first.next !== null);
      const second = JSON.parse(await get(`/api/audit?machine=${seeded.machine_id}&limit=1&before=${first.next}`)) as { rows: Array<{ event: string }> };
      assert.deepEqual(second.rows.map((r) => r.event), ['Started']);
      await get(`/audit?machine=${seeded.machine_id}&limit=1&before=${first.next}`);

      // 4. The next release's second step, migrated under the running components: each goes on working (a second machine taken over).
      const migratedAt = Date.now();
      assert.deepEqual(await nextReleaseMigrates([NEXT_RELEASE, WHILE_RUNNING]), [LATEST + 2]);
      await stand.writeDevices(2);
      all.shepherd.child.kill('SIGHUP');
      const back = await components.backAfter(migratedAt, 2, 30_000);

      // 5. `bmaas migrate` of this release: status names the unknown version, up applies nothing, down refuses.
      const migrate = (action: string) => runBmaas(['migrate', action, '--bmdb-url', db.url('migrator'), '--log-level', 'warn']);
      const [statusRun, upRun, downRun] = await Promise.all([migrate('status'), migrate('up'), migrate('down')]);
      assert.equal(statusRun.code, 0, statusRun.stderr);
      assert.match(statusRun.stdout, new RegExp(`schema version: ${LATEST + 2} \\(this build knows up to ${LATEST}\\)`));
      for (const m of [NEXT_RELEASE, WHILE_RUNNING]) assert.match(statusRun.stdout, new RegExp(`applied {2}${String(m.version).padStart(4, '0')}_${m.name} `));
      assert.match(statusRun.stdout, /the database is newer than this build/);
      assert.doesNotMatch(statusRun.stdout, /pending/);
      assert.deepEqual([upRun.code, upRun.stdout.trim()], [0, `nothing to apply; schema version is ${LATEST + 2}`], upRun.stderr);
      assert.notEqual(downRun.code, 0);
      assert.match(downRun.stderr, /newer than this build knows/);
      const versions = (await admin.query('SELECT max(version)::int AS v, count(*)::int AS n FROM bmdb_migrations')).rows[0];
      assert.deepEqual([versions.v, versions.n], [LATEST + 2, LATEST + 2], 'nothing was migrated down');

      for (const [name, p] of Object.entries(all)) {
        assert.equal(p.child.exitCode, null, `${name} kept running:\n${p.stderr().slice(-2000)}`);
        // The shepherd warns at start-up about this stand's flags (no host key check, no BMC); nothing more.
        const unexpected = warnings(p.stderr()).filter((l) => name !== 'shepherd' || (JSON.parse(l) as { level: number }).level >= 50);
        assert.deepEqual(unexpected, [], `${name} logged no warning or error`);
      }
      assert.deepEqual(await components.stop(), { shepherd: 0, server: 0, webug: 0, scruffy: 0 }, 'every component stopped cleanly');
      reportFigure(t, `upgrade compatibility: schema ${LATEST + 1}, then ${LATEST + 2} (this build knows ${LATEST}); shepherd, server, webug and scruffy all working ${workingAfter} ms after the start; after a migration under them, working again in ${JSON.stringify(back)} ms; whole check ${Date.now() - started} ms`);
    });
  });
});
