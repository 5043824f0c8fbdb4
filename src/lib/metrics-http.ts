// Serves one prom-client registry as text on http://HOST:PORT/metrics; every
// other path is 404. Used by every command with --metrics-listen-address.
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** host:port actually bound (port 0 resolved), for logs and tests. */
  readonly address: string;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

/** Listens on host:port (undefined host: every interface); rejects when the address cannot be bound. */
export async function serveMetrics(registry: Registry, a: { host: string | undefined; port: number; signal?: AbortSignal }): Promise<MetricsServer> {
  a.signal?.throwIfAborted();
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  server.listen(a.port, a.host);
  await once(server, 'listening', a.signal ? { signal: a.signal } : {});
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let closed: Promise<void> | undefined;
  return {
    address: `${host}:${bound.port}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
