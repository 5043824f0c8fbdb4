// gRPC client of the AgentCallback service over HTTP/2 + TLS.
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
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return { client: createClient(AgentCallback, transport), close: () => sessionManager.abort() };
}
