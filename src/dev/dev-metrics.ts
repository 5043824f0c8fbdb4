// `bmaas dev`'s /metrics: one registry for everything in the process (the
// process and Node.js defaults, the BMDB client counters, the callback
// server, the shepherd) plus an embedded stats exporter (scruffy) on the same
// registry, served on the preferred address or a free port when it is taken.
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Bmdb, RecoveryThresholds } from '../bmdb/index.ts';
import { parseListenAddress } from '../lib/index.ts';
import { serveMetrics, type MetricsServer } from '../lib/metrics-http.ts';
import { ScruffyExporter } from '../scruffy/index.ts';

/**
 * How often the embedded exporter reads the BMDB: every 5 s, shorter than
 * scruffy's 1 min because dev's fleet moves in seconds; every 30 s above 200
 * machines, because the embedded database runs one query at a time and the
 * derived-state queries look at every machine's history.
 */
export function devStatsIntervalMs(machines: number): number {
  return machines > 200 ? 30_000 : 5_000;
}

/** The registry every component of `bmaas dev` counts into. */
export function devMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface DevMetrics extends AsyncDisposable {
  /** http://host:port/metrics, or undefined when the listen address is `off`. */
  readonly url: string | undefined;
}

/**
 * Starts the embedded stats exporter and serves `registry` on `listenAddress`
 * (`off`: neither). Rejects only for an address that is neither free nor in use.
 */
export async function startDevMetrics(a: {
  registry: Registry;
  listenAddress: string;
  bmdb: Bmdb;
  machines: number;
  thresholds: RecoveryThresholds;
  logger: Logger;
  signal: AbortSignal;
}): Promise<DevMetrics> {
  if (a.listenAddress === 'off') return { url: undefined, [Symbol.asyncDispose]: async () => {} };
  const at = parseListenAddress(a.listenAddress);
  let server: MetricsServer;
  try {
    server = await serveMetrics(a.registry, { ...at, signal: a.signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    a.logger.warn({ address: a.listenAddress }, 'metrics address in use; using a free port instead');
    server = await serveMetrics(a.registry, { ...at, port: 0, signal: a.signal });
  }
  const scruffy = new ScruffyExporter(a.bmdb, {
    registry: a.registry,
    collectionIntervalMs: devStatsIntervalMs(a.machines),
    recoveryThresholds: a.thresholds,
    shutdownGraceMs: 1_000,
    logger: a.logger.child({ component: 'scruffy' }),
  });
  scruffy.start();
  return {
    url: `http://${server.address}/metrics`,
    async [Symbol.asyncDispose]() {
      await scruffy.stop();
      await server.close();
    },
  };
}
