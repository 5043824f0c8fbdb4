// Shared by the callback server and agent tests: a running server with
// throwaway development certificates, and agents enrolled in the BMDB.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Bmdb } from '../src/bmdb/index.ts';
import { AgentCallbackServer, ensureDevCertificates, type AgentCallbackServerOptions } from '../src/server/index.ts';
import { generateAgentKey, rawPublicKey } from '../src/agent/agent-identity.ts';

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
