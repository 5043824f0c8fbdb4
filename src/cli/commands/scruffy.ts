// bmaas scruffy: the stats exporter. Reads the BMDB (read-only, no session)
// every collection interval and serves the gauges on /metrics.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { serveMetrics } from '../../lib/metrics-http.ts';
import {
  DEFAULT_COLLECTION_INTERVAL_MS,
  DEFAULT_HARDWARE_PAGE_SIZE,
  DEFAULT_SESSION_COMPONENTS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  SCRUFFY_BOUNDS,
  ScruffyExporter,
  ScruffyOptionsError,
} from '../../scruffy/index.ts';
import { HostPortError, parseListenAddress } from '../../lib/index.ts';
import type { Command } from '../command.ts';
import { BMDB_FLAGS, LOG_FLAGS, openBmdbFromFlags, RECOVERY_THRESHOLD_FLAGS, recoveryThresholdsFromFlags } from '../common-flags.ts';
import { durationFlagBounds, UsageError } from '../../lib/flags.ts';
import { STUCK_LIMIT_FLAG, stuckLimitsFromFlags } from '../stuck-limit-flags.ts';

export const DEFAULT_SCRUFFY_METRICS_ADDRESS = '127.0.0.1:9180';

export const command: Command = {
  name: 'scruffy',
  summary: 'export BMDB fleet statistics (bmdb_stats_*, bmdb_hwstats_*) as Prometheus metrics',
  usage: '[--bmdb-url URL] [--metrics-listen-address HOST:PORT] [--collection-interval 1m]',
  description:
    'Counts machines by workflow state, by derived state (stuck ones too), quarantined machines, whether the storm guard pauses recovery, ' +
    'time in state, active backoffs and work per process, live sessions per component, and hardware per region, ' +
    'from the same predicates the shepherd uses. It never writes and holds no session, so a role that may only SELECT is enough. ' +
    'A collection that fails keeps the last values and counts scruffy_collection_failures_total.',
  flags: [
    ...BMDB_FLAGS,
    { name: 'metrics-listen-address', type: 'string', default: DEFAULT_SCRUFFY_METRICS_ADDRESS, placeholder: 'HOST:PORT', description: 'serve Prometheus metrics on http://HOST:PORT/metrics' },
    { name: 'collection-interval', type: 'duration', default: DEFAULT_COLLECTION_INTERVAL_MS, ...durationFlagBounds(SCRUFFY_BOUNDS.collectionIntervalMs), description: 'how often the BMDB is read' },
    { name: 'hardware-page-size', type: 'int', default: DEFAULT_HARDWARE_PAGE_SIZE, ...SCRUFFY_BOUNDS.hardwarePageSize, placeholder: 'N', description: 'hardware reports read per query' },
    {
      name: 'session-components',
      type: 'string',
      default: DEFAULT_SESSION_COMPONENTS.join(','),
      placeholder: 'NAMES',
      description: 'comma-separated components whose bmdb_stats_sessions series exists (at 0) even before a session of theirs was seen',
    },
    // heartbeating and pending recovery use these; give the shepherd's values.
    ...RECOVERY_THRESHOLD_FLAGS,
    // bmdb_stats_machines_stuck uses these; give webug's values.
    STUCK_LIMIT_FLAG,
    { name: 'shutdown-grace', type: 'duration', default: DEFAULT_SHUTDOWN_GRACE_MS, ...durationFlagBounds(SCRUFFY_BOUNDS.shutdownGraceMs), description: 'how long a collection in flight may finish at shutdown' },
    ...LOG_FLAGS,
  ],
  async run(flags, ctx) {
    if (flags.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(flags.positionals[0])}`);
    let listen: ReturnType<typeof parseListenAddress>;
    try {
      listen = parseListenAddress(flags.string('metrics-listen-address')!);
    } catch (err) {
      if (err instanceof HostPortError) throw new UsageError(err.message);
      throw err;
    }
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    let exporter: ScruffyExporter;
    const options = {
      registry,
      collectionIntervalMs: flags.number('collection-interval'),
      hardwarePageSize: flags.number('hardware-page-size'),
      shutdownGraceMs: flags.number('shutdown-grace'),
      recoveryThresholds: recoveryThresholdsFromFlags(flags),
      stuckLimits: stuckLimitsFromFlags(flags),
      sessionComponents: flags
        .string('session-components')!
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      logger: ctx.logger.child({ component: 'scruffy' }),
    };
    // Read-only: it never migrates, and reads whatever schema it finds.
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, metricsRegistry: registry, signal: ctx.signal });
    try {
      try {
        exporter = new ScruffyExporter(bmdb, options);
      } catch (err) {
        if (err instanceof ScruffyOptionsError) throw new UsageError(err.message);
        throw err;
      }
      const metrics = await serveMetrics(registry, { ...listen, signal: ctx.signal });
      try {
        exporter.start();
        ctx.stdout.write(`scruffy: metrics on http://${metrics.address}/metrics\n`);
        if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        await exporter.stop();
      } finally {
        await metrics.close();
      }
    } finally {
      await bmdb.close();
    }
  },
};
