// Shutting the server down with calls in flight: calls that finish within the
// grace period complete normally, no new connection is accepted meanwhile,
// and whatever still runs after the grace is aborted so close() resolves.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import pg from 'pg';
import { callHeartbeat, enrolAgent, heartbeatAt, startTestServerOnPostgres, type PostgresTestServer } from '../../test/agent-harness.ts';
import { describePostgres } from '../../test/pg.ts';
import { clientCertificate } from '../agent/agent-identity.ts';

/** Settles within `ms`? Resolves to the outcome or 'pending'. */
async function within<T>(promise: Promise<T>, ms: number): Promise<'settled' | 'pending'> {
  const timer = sleep(ms).then(() => 'pending' as const);
  return Promise.race([promise.then(() => 'settled' as const, () => 'settled' as const), timer]);
}

/** Resolves with the connect error code, or 'connected'. */
async function tcpConnect(port: number): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    return 'connected';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    socket.destroy();
  }
}

describePostgres('agent callback server graceful shutdown', () => {
  let srv: PostgresTestServer | undefined;
  let locker: pg.Client | undefined;

  afterEach(async () => {
    await locker?.query('ROLLBACK').catch(() => undefined);
    await locker?.end().catch(() => undefined);
    locker = undefined;
    await srv?.close();
    srv = undefined;
  });

  /**
   * A server with an enrolled agent that heartbeated once, and a heartbeat of
   * that agent started and stuck on a row lock held by `locker`.
   */
  async function stuckHeartbeat(): Promise<{ s: PostgresTestServer; machineId: string; first: Date; call: Promise<unknown> }> {
    const s = (srv = await startTestServerOnPostgres());
    const { machineId, key } = await enrolAgent(s.bmdb);
    const cert = await clientCertificate(key, machineId);
    await callHeartbeat(s, cert, { machineId });
    const first = (await heartbeatAt(s.bmdb, machineId))!;
    locker = new pg.Client({ connectionString: s.db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM machine_agent_heartbeat WHERE machine_id = $1 FOR UPDATE', [machineId]);
    const call = callHeartbeat(s, cert, { machineId }, { timeoutMs: 30_000 });
    call.catch(() => undefined);
    // In flight once its upsert waits for our lock.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await locker.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      if (r.rowCount) break;
      assert.ok(Date.now() < deadline, 'the heartbeat never reached the locked row');
      await sleep(20);
    }
    return { s, machineId, first, call };
  }

  it('lets a call in flight finish, refuses new connections meanwhile, then resolves', async () => {
    const { s, machineId, first, call } = await stuckHeartbeat();
    const closing = s.server.close({ graceMs: 20_000 });
    assert.equal(s.server.state, 'stopping');
    assert.equal(await tcpConnect(s.server.port), 'ECONNREFUSED');
    assert.equal(await within(closing, 300), 'pending', 'close() waits for the call');
    assert.equal(await within(call, 0), 'pending');

    await locker!.query('COMMIT');
    await call;
    const second = await heartbeatAt(s.bmdb, machineId);
    assert.ok(second && second > first, 'the drained call was recorded');
    assert.equal(await within(closing, 5000), 'settled');
    assert.equal(s.server.state, 'stopped');
  });

  it('aborts calls still running after the grace, and close() resolves', async () => {
    const { s, machineId, first, call } = await stuckHeartbeat();
    const started = Date.now();
    await s.server.close({ graceMs: 300 });
    const took = Date.now() - started;
    assert.ok(took < 3000, `close took ${took} ms`);
    assert.equal(s.server.state, 'stopped');
    const err = await call.then(
      () => assert.fail('the call outlived the grace'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError, String(err));
    // Told to come back later, not cut off mid-stream.
    assert.equal(err.code, Code.Unavailable, err.message);

    // Its transaction never commits: once our lock is gone, the row still
    // holds the first heartbeat (FOR UPDATE waits for the aborted one to end).
    await locker!.query('COMMIT');
    const r = await locker!.query('SELECT agent_heartbeat_at FROM machine_agent_heartbeat WHERE machine_id = $1 FOR UPDATE', [machineId]);
    assert.deepEqual(r.rows[0]?.agent_heartbeat_at, first);
  });

  it('does not wait past the grace for a connection that never finished its TLS handshake', async () => {
    const s = (srv = await startTestServerOnPostgres());
    const idle = net.connect({ host: '127.0.0.1', port: s.server.port });
    await once(idle, 'connect');
    try {
      const started = Date.now();
      await s.server.close({ graceMs: 300 });
      assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms`);
    } finally {
      idle.destroy();
    }
  });
});
