// The BMDB goes away under a running server: heartbeats are answered with
// UNAVAILABLE (so agents back off and retry) without telling the agent
// anything about the database, and succeed again once it is back, on a new
// BMDB session when the old one expired meanwhile.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import pg from 'pg';
import { callHeartbeat, enrolAgent, heartbeatAt, startTestServerOnPostgres, type PostgresTestServer } from '../../test/agent-harness.ts';
import { describePostgres } from '../../test/pg.ts';
import { clientCertificate } from '../agent/agent-identity.ts';

// What the agent may be told: fixed texts, nothing from the driver.
const UNAVAILABLE_MESSAGES = ['the BMDB is unavailable, retry later', 'the BMDB session is unavailable, retry later'];
const CALL_TIMEOUT_MS = 1500;

describePostgres('agent callback server while the BMDB is unreachable', () => {
  let srv: PostgresTestServer;
  let admin: pg.Client;
  let dbName: string;

  before(async () => {
    srv = await startTestServerOnPostgres({ sessionIntervalMs: 1000, callTimeoutMs: CALL_TIMEOUT_MS });
    const url = new URL(srv.db.url);
    dbName = decodeURIComponent(url.pathname.slice(1));
    url.pathname = '/postgres';
    admin = new pg.Client({ connectionString: url.toString() });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  after(async () => {
    await admin?.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await srv?.close();
  });

  // Refuses new connections to the test database and kills the open ones, the
  // server's pool included: to the server it looks like the database is gone.
  async function cutOff(): Promise<void> {
    await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
  }
  async function restore(): Promise<void> {
    await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
  }

  async function serverSessions(): Promise<string[]> {
    const r = await srv.bmdb.driver.query("SELECT session_id FROM sessions WHERE session_component_name = 'bmsrv' AND session_deadline > now()");
    return r.rows.map((row) => row.session_id as string);
  }

  it('answers UNAVAILABLE with a fixed message during the outage and heartbeats again after it', async () => {
    const { machineId, key } = await enrolAgent(srv.bmdb);
    const cert = await clientCertificate(key, machineId);
    await callHeartbeat(srv, cert, { machineId });
    const before = await heartbeatAt(srv.bmdb, machineId);
    assert.ok(before);
    const [oldSession] = await serverSessions();
    assert.ok(oldSession);

    await cutOff();
    try {
      // Long enough for the session's keep-alive to give up (one interval
      // without an extension), so recovery needs a new session.
      const until = Date.now() + 2500;
      let calls = 0;
      while (Date.now() < until || calls < 3) {
        calls++;
        const started = Date.now();
        const err = await callHeartbeat(srv, cert, { machineId }).then(
          () => assert.fail('a heartbeat succeeded while the database was unreachable'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ConnectError, String(err));
        assert.equal(err.code, Code.Unavailable, err.message);
        assert.ok(UNAVAILABLE_MESSAGES.includes(err.rawMessage), `leaks internals: ${JSON.stringify(err.rawMessage)}`);
        assert.ok(!err.rawMessage.includes(dbName));
        assert.equal(err.metadata.get('grpc-status-details-bin'), null, 'no error details are attached');
        // Refused promptly, not left to the deadline.
        assert.ok(Date.now() - started < 3000, `call took ${Date.now() - started} ms`);
        await sleep(200);
      }
    } finally {
      await restore();
    }

    await callHeartbeat(srv, cert, { machineId });
    const after = await heartbeatAt(srv.bmdb, machineId);
    assert.ok(after && after > before, 'the heartbeat time advanced after the outage');
    const sessions = await serverSessions();
    assert.equal(sessions.length, 1, `live server sessions: ${sessions.join(', ')}`);
    assert.notEqual(sessions[0], oldSession, 'the expired session was replaced');

    const metrics = await srv.metrics.metrics();
    assert.match(metrics, /bmsrv_calls_total\{method="Heartbeat",code="UNAVAILABLE"\} [1-9]/);
  });

  it('ends a call waiting for a new BMDB session at the server deadline', async () => {
    const { machineId, key } = await enrolAgent(srv.bmdb);
    const cert = await clientCertificate(key, machineId);
    await callHeartbeat(srv, cert, { machineId });
    const [old] = await serverSessions();
    assert.ok(old);
    // Expire the session and give its keep-alive time to notice, so the next
    // call has to start a new one...
    await srv.bmdb.driver.query("UPDATE sessions SET session_deadline = now() - interval '1 minute' WHERE session_id = $1", [old]);
    await sleep(1200);
    // ...which cannot happen while the sessions table is locked.
    const locker = new pg.Client({ connectionString: srv.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const err = await callHeartbeat(srv, cert, { machineId }, { timeoutMs: 10_000 }).then(
        () => assert.fail('the heartbeat succeeded with the sessions table locked'),
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, Code.DeadlineExceeded, err.message);
      assert.ok(took < CALL_TIMEOUT_MS + 1000, `the call took ${took} ms, the server deadline is ${CALL_TIMEOUT_MS} ms`);
    } finally {
      await locker.query('COMMIT').catch(() => undefined);
      await locker.end();
    }
    await callHeartbeat(srv, cert, { machineId });
    const sessions = await serverSessions();
    assert.equal(sessions.length, 1, `live server sessions: ${sessions.join(', ')}`);
    assert.notEqual(sessions[0], old);
  });
});
