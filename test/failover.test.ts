// PostgreSQL failover under a multi-host --bmdb-url: a primary with a
// synchronous streaming standby, a writer committing tags the whole time, the
// primary stopped and the standby promoted. The driver must find the new
// primary by itself, and every commit the writer saw succeed must be there.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { openBmdb, type Bmdb } from '../src/bmdb/index.ts';
import { reportFigure } from './faults/figure.ts';
import { describePostgres } from './pg.ts';
import { startPgCluster, startPgStandby, type PgCluster } from './pg-cluster.ts';

const RECONNECT_LIMIT_MS = 15_000;

async function adminQuery<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

describePostgres('failover to a promoted synchronous standby', () => {
  let primary: PgCluster | undefined;
  let standby: PgCluster | undefined;
  let bmdb: Bmdb | undefined;

  before(async () => {
    primary = await startPgCluster({ settings: { synchronous_commit: 'on' } });
    standby = await startPgStandby(primary, { applicationName: 'standby1' });
    await adminQuery(primary.adminUrl, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
    await adminQuery(primary.adminUrl, 'SELECT pg_reload_conf()');
    await until('the standby to replicate synchronously', 20_000, async () => {
      const rows = await adminQuery<{ sync_state: string }>(primary!.adminUrl, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'");
      return rows[0]?.sync_state === 'sync';
    });
    await adminQuery(primary.adminUrl, 'CREATE DATABASE bmaas');
  });

  after(async () => {
    await bmdb?.close().catch(() => undefined);
    await standby?.stop();
    await primary?.stop();
  });

  it('skips a standby listed first when target_session_attrs=read-write', async () => {
    const url = `postgres://postgres@127.0.0.1:${standby!.port},127.0.0.1:${primary!.port}/bmaas?target_session_attrs=read-write`;
    await using db = await openBmdb({ url });
    const rows = (await db.driver.query<{ port: number }>('SELECT inet_server_port() AS port')).rows;
    assert.equal(rows[0]!.port, primary!.port);
  });

  it('reconnects to the new primary within 15 s and loses no committed tag', { timeout: 60_000 }, async (t) => {
    const url = `postgres://postgres@127.0.0.1:${primary!.port},127.0.0.1:${standby!.port}/bmaas?target_session_attrs=read-write`;
    bmdb = await openBmdb({ url, migrate: true });
    const serverPort = async (): Promise<number> => (await bmdb!.driver.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port;
    assert.equal(await serverPort(), primary!.port);

    // The writer: one machine with two tags per transaction; `committed` holds
    // only those whose commit was acknowledged.
    const committed: string[] = [];
    const errors: string[] = [];
    let firstCommitAfterStop: number | undefined;
    // When the primary had stopped: the writer's first commit begun after it counts.
    let downAt: number | undefined;
    let promotedAt: number | undefined;
    const writing = new AbortController();
    const writer = (async () => {
      for (let i = 0; !writing.signal.aborted; i++) {
        const startedAt = Date.now();
        try {
          const id = await bmdb!.transact('unittest', async (q) => {
            const m = await q.newMachine();
            await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: `failover-${i}` });
            await q.setAgentHeartbeat({ machineId: m.machineId });
            return m.machineId;
          });
          committed.push(id);
          if (downAt !== undefined && startedAt >= downAt && firstCommitAfterStop === undefined) firstCommitAfterStop = Date.now();
        } catch (err) {
          errors.push((err as Error).message);
          await delay(100);
        }
      }
    })();

    try {
    await until('a few commits', 10_000, async () => committed.length >= 20);
    const committedBeforeStop = committed.length;
    await primary!.ctl(['-m', 'fast', '-w', 'stop']);
    downAt = Date.now();
    await standby!.ctl(['-w', 'promote']);
    promotedAt = Date.now();
    await until('a commit on the new primary', RECONNECT_LIMIT_MS, async () => firstCommitAfterStop !== undefined);
    await until('more commits', 10_000, async () => committed.length >= committedBeforeStop + 20);
    } finally {
      writing.abort();
      await writer;
    }

    const reconnectMs = firstCommitAfterStop! - downAt!;
    assert.equal(await serverPort(), standby!.port, 'the driver now talks to the promoted standby');
    const stored = await adminQuery<{ machine_id: string }>(
      standby!.adminUrl.replace(/\/postgres$/, '/bmaas'),
      'SELECT machine_id FROM machines JOIN machine_agent_heartbeat USING (machine_id)',
    );
    const present = new Set(stored.map((r) => r.machine_id));
    const lost = committed.filter((id) => !present.has(id));
    assert.deepEqual(lost, [], 'every acknowledged commit survived the failover');
    assert.ok(reconnectMs < RECONNECT_LIMIT_MS, `reconnected after ${reconnectMs} ms`);
    reportFigure(
      t,
      `failover: first commit on the new primary ${reconnectMs} ms after the old one was down (${firstCommitAfterStop! - promotedAt!} ms after pg_ctl promote returned; limit ${RECONNECT_LIMIT_MS} ms); ` +
        `${committed.length} commits kept, 0 lost, ${errors.length} failed attempts during the switch (${[...new Set(errors)].slice(0, 3).join(' | ')})`,
    );
  });
});
