// `bmaas dev --fault-server-outage 30s@40s`: the agents reach the callback
// server through this TCP proxy, which for the outage window drops every
// connection and refuses new ones, as a crashed server or a cut network would.
// The storm guard is what should keep the recoverer calm meanwhile.
import net from 'node:net';
import type { Logger } from 'pino';
import { parseDuration } from '../lib/duration.ts';
import { silentLogger } from '../lib/logger.ts';

/** An outage of `durationMs` that starts `startMs` after bmaas dev started. */
export interface ServerOutage {
  readonly startMs: number;
  readonly durationMs: number;
}

/** Where a run is relative to its outage. */
export type OutagePhase = 'ahead' | 'on' | 'over';

export class OutageSyntaxError extends Error {
  override name = 'OutageSyntaxError';
}

/**
 * Reads `DURATION@START` (`30s@40s`: 30 s long, from 40 s in).
 * @throws OutageSyntaxError when the text has another form or the outage is empty.
 */
export function parseServerOutage(text: string): ServerOutage {
  const at = text.indexOf('@');
  if (at < 0) throw new OutageSyntaxError(`expected DURATION@START (e.g. 30s@40s), got '${text}'`);
  try {
    const durationMs = parseDuration(text.slice(0, at), { minMs: 1, maxMs: 24 * 3_600_000 });
    const startMs = parseDuration(text.slice(at + 1), { minMs: 0, maxMs: 24 * 3_600_000 });
    return Object.freeze({ startMs, durationMs });
  } catch (err) {
    throw new OutageSyntaxError(`bad outage '${text}': ${(err as Error).message}`, { cause: err });
  }
}

export class OutageProxy {
  readonly address: string;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #timers: NodeJS.Timeout[] = [];
  #phase: OutagePhase = 'ahead';
  #endsAt = 0;

  private constructor(server: net.Server, address: string) {
    this.#server = server;
    this.address = address;
  }

  /**
   * Listens on 127.0.0.1 (any free port) and forwards to `target` (host:port).
   * The outage's start counts from `startedAt` (Date.now() milliseconds; default now).
   */
  static async start(o: { target: string; outage: ServerOutage; startedAt?: number; logger?: Logger }): Promise<OutageProxy> {
    const log = (o.logger ?? silentLogger()).child({ component: 'outage-proxy' });
    const colon = o.target.lastIndexOf(':');
    const host = o.target.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(o.target.slice(colon + 1));
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port: listening } = server.address() as net.AddressInfo;
    const proxy = new OutageProxy(server, `127.0.0.1:${listening}`);
    const begins = (o.startedAt ?? Date.now()) + o.outage.startMs;
    proxy.#endsAt = begins + o.outage.durationMs;
    server.on('connection', (client: net.Socket) => proxy.#accept(client, host, port));
    proxy.#timers.push(
      setTimeout(() => {
        proxy.#phase = 'on';
        log.warn({ durationMs: o.outage.durationMs }, 'simulated callback server outage begins: agents cannot reach the server');
        for (const s of proxy.#sockets) s.destroy();
      }, Math.max(0, begins - Date.now())).unref(),
      setTimeout(() => {
        proxy.#phase = 'over';
        log.warn('simulated callback server outage ends');
      }, Math.max(0, proxy.#endsAt - Date.now())).unref(),
    );
    return proxy;
  }

  /** Whether the outage is on now. */
  get down(): boolean {
    return this.#phase === 'on';
  }

  /** Whether the outage is still to come, on now or over. */
  get phase(): OutagePhase {
    return this.#phase;
  }

  /** Milliseconds until the outage ends (0 once over). */
  get msUntilOver(): number {
    return Math.max(0, this.#endsAt - Date.now());
  }

  #accept(client: net.Socket, host: string, port: number): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
