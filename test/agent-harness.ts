// Shared by the callback server and agent tests: a running server with
// throwaway development certificates, agents enrolled in the BMDB, and a
// heartbeat call as an agent makes it, and an agent's takeover run as a process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { after, before } from 'node:test';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Registry } from 'prom-client';
import { openBmdb, type Bmdb } from '../src/bmdb/index.ts';
import { AgentCallbackServer, ensureDevCertificates, type AgentCallbackServerOptions } from '../src/server/index.ts';
import { generateAgentKey, rawPublicKey } from '../src/agent/agent-identity.ts';
import { createCallbackClient, type CallbackClientOptions } from '../src/agent/callback-client.ts';
import type { AgentHeartbeatRequestSchema, AgentHeartbeatResponse } from '../src/proto/index.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';

export interface TestServer {
  readonly server: AgentCallbackServer;
  /** `127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly caCertificate: Buffer;
  readonly metrics: Registry;
  close(): Promise<void>;
}

export async function startTestServer(bmdb: Bmdb, opts: Partial<AgentCallbackServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-certs-'));
  const certs = await ensureDevCertificates(dir);
  const metrics = new Registry();
  const server = await AgentCallbackServer.start({ bmdb, listenAddress: '127.0.0.1:0', tls: { cert: certs.cert, key: certs.key }, metricsRegistry: metrics, sessionIntervalMs: 2000, ...opts });
  return {
    server,
    endpoint: `127.0.0.1:${server.port}`,
    caCertificate: certs.caCertificateDer,
    metrics,
    async close() {
      await server.close({ graceMs: 500 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For the enclosing suite: before() opens a BMDB with `open` and starts a
 * server on it, after() stops the server. Read the fields inside tests.
 */
export function useTestServer(open: () => Promise<Bmdb>, opts: Partial<AgentCallbackServerOptions> = {}): { readonly bmdb: Bmdb; readonly srv: TestServer } {
  let bmdb: Bmdb | undefined;
  let srv: TestServer | undefined;
  before(async () => {
    bmdb = await open();
    srv = await startTestServer(bmdb, opts);
  });
  after(async () => {
    await srv?.close();
  });
  return {
    get bmdb() {
      assert.ok(bmdb, 'the suite has not started');
      return bmdb;
    },
    get srv() {
      assert.ok(srv, 'the suite has not started');
      return srv;
    },
  };
}

/** A server on a fresh PostgreSQL database of its own, for tests that lock, block or break it. */
export interface PostgresTestServer extends TestServer {
  readonly bmdb: Bmdb;
  readonly db: TestDatabase;
}

export async function startTestServerOnPostgres(opts: Partial<AgentCallbackServerOptions> = {}): Promise<PostgresTestServer> {
  const db = await createTestDatabase();
  const bmdb = await openBmdb({ url: db.url, migrate: true, metricsRegistry: new Registry() });
  const srv = await startTestServer(bmdb, opts);
  return {
    ...srv,
    bmdb,
    db,
    async close() {
      await srv.close();
      await bmdb.close();
      await db.drop();
    },
  };
}

/** A machine with AgentStarted for a fresh Ed25519 key, as the initializer would leave it. */
export async function enrolAgent(bmdb: Bmdb): Promise<{ machineId: string; key: KeyObject }> {
  const key = generateAgentKey();
  const machineId = await bmdb.transact('unittest', async (q) => {
    const m = await q.newMachine();
    await q.setAgentStarted({ machineId: m.machineId, publicKey: rawPublicKey(key) });
    return m.machineId;
  });
  return { machineId, key };
}

export type HeartbeatInit = MessageInitShape<typeof AgentHeartbeatRequestSchema>;

/** One Heartbeat RPC on a connection of its own, as `client` (certificate and key, or none). */
export async function callHeartbeat(
  srv: Pick<TestServer, 'endpoint' | 'caCertificate'>,
  client: Omit<CallbackClientOptions, 'endpoint' | 'caCertificate'>,
  req: HeartbeatInit,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<AgentHeartbeatResponse> {
  const c = createCallbackClient({ endpoint: srv.endpoint, caCertificate: srv.caCertificate, ...client });
  try {
    return await c.client.heartbeat(req, { timeoutMs: opts.timeoutMs ?? 5000, ...(opts.signal ? { signal: opts.signal } : {}) });
  } finally {
    c.close();
  }
}

/** When the BMDB last recorded a heartbeat of the machine, if ever. */
export async function heartbeatAt(bmdb: Bmdb, machineId: string, opts: { signal?: AbortSignal } = {}): Promise<Date | undefined> {
  const r = await bmdb.driver.query('SELECT agent_heartbeat_at FROM machine_agent_heartbeat WHERE machine_id = $1', [machineId], opts);
  return r.rows[0]?.agent_heartbeat_at as Date | undefined;
}

/** Runs an agent's takeover as a process: `input` (a TakeoverInit) on stdin, its stdout and stderr back. */
export function runTakeover(command: readonly string[], env: NodeJS.ProcessEnv, input: Uint8Array): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code }));
    child.stdin.end(input);
  });
}
