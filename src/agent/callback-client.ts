// gRPC client of the AgentCallback service over HTTP/2 + TLS.
import { EventEmitter } from 'node:events';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { AgentCallback } from '../proto/index.ts';
import { toPem } from '../lib/index.ts';

export interface CallbackClientOptions {
  /** `host:port` (as in TakeoverInit.bmaas_endpoint) or an `https://` URL. */
  readonly endpoint: string;
  /** DER CA certificate that signs the server's certificate; empty or absent = the system roots. */
  readonly caCertificate?: Uint8Array;
  /** PEM client certificate (chain) and key; absent = no client certificate. */
  readonly cert?: string;
  readonly key?: string;
}

export interface CallbackClient {
  readonly client: Client<typeof AgentCallback>;
  /** Drops the HTTP/2 connection. */
  close(): void;
}

export function endpointUrl(endpoint: string): string {
  return endpoint.includes('://') ? endpoint : `https://${endpoint}`;
}

export function createCallbackClient(opts: CallbackClientOptions): CallbackClient {
  const baseUrl = endpointUrl(opts.endpoint);
  const nodeOptions = {
    ...(opts.caCertificate && opts.caCertificate.length > 0 ? { ca: toPem(opts.caCertificate, 'CERTIFICATE') } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
  };
  const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 }, nodeOptions);
  swallowLateSessionErrors(sessionManager);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return { client: createClient(AgentCallback, transport), close: () => sessionManager.abort() };
}

/**
 * connect-node 2.2.0 destroys a connection that gets a GOAWAY with no call
 * open (what a `bmaas server` sends when it stops gracefully) with an error
 * that Node.js emits on the session only once its socket has closed. If the
 * manager moved on to a new connection meanwhile, it no longer listens, and
 * the error ends the agent as an uncaught exception
 * (connectrpc/connect-es#1768, fix proposed upstream in #1769; seen in
 * test/faults/server-restart.test.ts). Every connection the manager makes
 * ready gets a listener that ignores such late errors; while the manager
 * still listens it handles them as before. Relies on the manager's internal
 * state change, so it checks the shape and does nothing if that changed.
 */
function swallowLateSessionErrors(manager: Http2SessionManager): void {
  const m = manager as unknown as { setState?: (state: { t?: unknown; conn?: unknown }) => void };
  const setState = m.setState;
  if (typeof setState !== 'function') return;
  m.setState = function (state) {
    const conn = state.conn;
    if (state.t === 'ready' && conn instanceof EventEmitter) conn.on('error', () => {});
    setState.call(this, state);
  };
}
