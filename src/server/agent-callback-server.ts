// The agent callback server ("bmsrv"): gRPC over TLS on HTTP/2, the only door
// for agents into the BMDB. Clients are asked for a certificate but not
// verified by TLS: the Ed25519 key in it is checked against the BMDB instead.
import http2 from 'node:http2';
import type tls from 'node:tls';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { SessionKeeper, type Bmdb } from '../bmdb/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { heartbeatMethod } from './agent-callback-service.ts';
import { UnaryEndpoint, type UnaryCall } from './grpc-unary-endpoint.ts';
import { HeartbeatBatcher } from './heartbeat-batcher.ts';
import type { Transactor } from './heartbeat.ts';
import { parseListenAddress } from '../lib/index.ts';
import { serverMetrics } from './metrics.ts';
import { peerIdentityOf, type PeerIdentity, type PeerSocket } from './peer-identity.ts';
import { resolveCallTimeoutMs, resolveShutdownGraceMs } from './server-options.ts';

export interface AgentCallbackServerOptions {
  readonly bmdb: Bmdb;
  /** `host:port`; port 0 picks a free one (see `address`). */
  readonly listenAddress: string;
  /** PEM server certificate chain and private key. */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly logger?: Logger;
  readonly metricsRegistry?: Registry;
  /** Longest a heartbeat may take on the server; default and bounds in server-options.ts. */
  readonly callTimeoutMs?: number;
  /** Largest request message accepted; default 4 MiB. */
  readonly readMaxBytes?: number;
  /** BMDB session interval; default the library's. */
  readonly sessionIntervalMs?: number;
  readonly signal?: AbortSignal;
}

// The client certificate of a connection, read once per HTTP/2 session.
const identities = new WeakMap<http2.Http2Session, PeerIdentity>();
function connectionIdentity(call: UnaryCall): PeerIdentity {
  const { session } = call;
  if (session === undefined) return peerIdentityOf(undefined);
  let id = identities.get(session);
  if (id === undefined) {
    id = peerIdentityOf(session.socket as unknown as PeerSocket);
    identities.set(session, id);
  }
  return id;
}

/** After a failed BMDB session start, the next one is tried no sooner than this. */
const SESSION_RETRY_PAUSE_MS = 250;

/** After the grace: how long aborted calls get to send their error before connections are cut. */
const ABORTED_CALLS_REPLY_MS = 250;

export type ServerState = 'running' | 'stopping' | 'stopped';

export class AgentCallbackServer {
  readonly #server: http2.Http2SecureServer;
  readonly #keeper: SessionKeeper;
  readonly #batcher: HeartbeatBatcher;
  readonly #logger: Logger;
  // Aborting it fails the batcher's waiting calls; #endpoint.abortAll ends the calls themselves.
  readonly #shutdown: AbortController;
  readonly #endpoint: UnaryEndpoint;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  // Every TCP connection, including those still in the TLS handshake (not yet
  // a session), which server.close() would otherwise wait out (2 min).
  readonly #sockets = new Set<Duplex>();
  #state: ServerState = 'running';
  #closing: Promise<void> | undefined;

  private constructor(
    server: http2.Http2SecureServer,
    keeper: SessionKeeper,
    batcher: HeartbeatBatcher,
    logger: Logger,
    shutdown: AbortController,
    endpoint: UnaryEndpoint,
  ) {
    this.#server = server;
    this.#endpoint = endpoint;
    this.#batcher = batcher;
    this.#shutdown = shutdown;
    this.#keeper = keeper;
    this.#logger = logger;
    server.on('connection', (socket: Duplex) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('session', (s) => {
      this.#sessions.add(s);
      s.once('close', () => this.#sessions.delete(s));
      // Handshake finished after close() began: no new calls on it either.
      if (this.#state !== 'running') s.close();
    });
  }

  /** Listens and returns once the port is bound. The BMDB session starts with the first call. */
  static async start(opts: AgentCallbackServerOptions): Promise<AgentCallbackServer> {
    const logger = opts.logger ?? silentLogger();
    const { host, port } = parseListenAddress(opts.listenAddress);
    // One BMDB session for every call, replaced when it expires. A call that
    // finds the last start failed waits at most the short pause, then tries.
    const keeper = new SessionKeeper(opts.bmdb, {
      component: 'bmsrv',
      processor: 'bmsrv',
      errorPauseMs: SESSION_RETRY_PAUSE_MS,
      logger,
      ...(opts.sessionIntervalMs ? { intervalMs: opts.sessionIntervalMs } : {}),
    });
    const shutdown = new AbortController();
    const transact: Transactor = (fn, o) => keeper.withSession((session) => session.transact(fn, o), o);
    const metrics = serverMetrics(opts.metricsRegistry ?? new Registry());
    // Plain heartbeats are written in groups, in the same session transaction.
    const batcher = new HeartbeatBatcher({ transact, logger, signal: shutdown.signal, onBatch: (n) => metrics.heartbeatBatchSize.observe(n) });
    const endpoint = new UnaryEndpoint({
      method: heartbeatMethod({ store: { transact, batcher }, logger, metrics, peerOf: connectionIdentity, outage: opts.bmdb.outage }),
      readMaxBytes: opts.readMaxBytes ?? 4 * 1024 * 1024,
      maxTimeoutMs: resolveCallTimeoutMs(opts.callTimeoutMs),
    });
    const server = http2.createSecureServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      requestCert: true,
      rejectUnauthorized: false,
      allowHTTP1: false,
      minVersion: 'TLSv1.2',
    });
    // A connection keeps the certificate it was opened with (identities above).
    server.on('secureConnection', (socket: tls.TLSSocket) => socket.disableRenegotiation());
    // Streams are served directly (no 'request' listener, so no compat layer).
    server.on('stream', (stream, headers) => endpoint.serve(stream, headers));
    server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    const self = new AgentCallbackServer(server, keeper, batcher, logger, shutdown, endpoint);
    opts.signal?.addEventListener('abort', () => void self.close(), { once: true });
    logger.info({ address: self.address }, 'agent callback server listening');
    return self;
  }

  get state(): ServerState {
    return this.#state;
  }

  /** Where the server listens, e.g. `127.0.0.1:8080` (with the real port when 0 was asked for). */
  get address(): string {
    const a = this.#server.address();
    if (a === null || typeof a === 'string') return String(a);
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  get port(): number {
    const a = this.#server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /**
   * Graceful shutdown in two stages: stop accepting connections and let calls
   * in flight finish for up to `graceMs` (CALLBACK_SERVER_DEFAULTS); then abort what is left
   * (those calls answer UNAVAILABLE), drop every connection, including ones
   * still in the TLS handshake, and close the BMDB session. Idempotent.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(resolveShutdownGraceMs(opts.graceMs));
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#state = 'stopping';
    this.#logger.info('agent callback server stopping');
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sessions) s.close();
    let cut: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      const reason = new Error('server shutdown');
      this.#shutdown.abort(reason);
      this.#endpoint.abortAll(reason);
      // Aborted handlers answer UNAVAILABLE at once; give that a moment to
      // reach the agents, then drop whatever is still connected.
      cut = setTimeout(() => {
        for (const s of this.#sessions) s.destroy();
        for (const socket of this.#sockets) socket.destroy();
      }, ABORTED_CALLS_REPLY_MS);
    }, graceMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
      clearTimeout(cut);
    }
    // Every call has ended (answered or aborted), so nothing waits in it.
    await this.#batcher.close();
    await this.#keeper.close();
    this.#state = 'stopped';
    this.#logger.info('agent callback server stopped');
  }
}
