// Flags shared by the commands that talk to the BMDB, and the code that turns
// them into an open connection.
import path from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry as PromRegistry, type Registry } from 'prom-client';
import { HostPortError, parseListenAddress, type HostPort } from '../lib/index.ts';
import { serveMetrics, type MetricsServer } from '../lib/metrics-http.ts';
import { openBmdb, type Bmdb, type RecoveryThresholds } from '../bmdb/index.ts';
import { durationFlagBounds, UsageError, type FlagSpec, type ParsedFlags } from '../lib/flags.ts';
import { SHEPHERD_BOUNDS, SHEPHERD_DEFAULTS } from '../shepherd/index.ts';

export const DEFAULT_DATA_DIR = '.bmaas';

export const BMDB_FLAGS: readonly FlagSpec[] = [
  {
    name: 'bmdb-url',
    type: 'string',
    placeholder: 'URL',
    env: 'BMAAS_BMDB_URL',
    secret: true,
    description: 'BMDB to use: postgres://user:pass@host:port/db (several hosts: postgres://db1:5432,db2:5432/db?target_session_attrs=read-write), pglite:///abs/dir or pglite://memory. Default: an embedded database in ./.bmaas/bmdb',
  },
  {
    name: 'bmdb-isolation',
    type: 'string',
    default: 'read-committed',
    placeholder: 'LEVEL',
    description: 'transaction isolation: read-committed or serializable (what CockroachDB gives)',
  },
];

export const LOG_FLAGS: readonly FlagSpec[] = [
  { name: 'log-level', type: 'string', default: 'info', placeholder: 'LEVEL', env: 'BMAAS_LOG_LEVEL', description: 'trace, debug, info, warn, error or silent' },
];

/** The BMDB URL from the flags, or the embedded default under the working directory. */
export function bmdbUrlFromFlags(flags: ParsedFlags): { url: string; embeddedDir?: string } {
  const given = flags.string('bmdb-url');
  if (given) return { url: given };
  const dir = path.resolve(DEFAULT_DATA_DIR, 'bmdb');
  return { url: `pglite://${dir}`, embeddedDir: dir };
}

export async function openBmdbFromFlags(
  flags: ParsedFlags,
  opts: { logger: Logger; migrate?: boolean; metricsRegistry?: Registry; signal?: AbortSignal },
): Promise<Bmdb> {
  const { url, embeddedDir } = bmdbUrlFromFlags(flags);
  const iso = flags.string('bmdb-isolation');
  if (iso !== 'read-committed' && iso !== 'serializable') throw new UsageError(`invalid value for --bmdb-isolation: expected read-committed or serializable, got ${JSON.stringify(iso)}`);
  if (embeddedDir) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(embeddedDir, { recursive: true });
    opts.logger.info({ dataDir: embeddedDir }, `no --bmdb-url given: using the embedded database stored in ${embeddedDir}`);
  }
  const bmdb = await openBmdb({
    url,
    migrate: opts.migrate ?? true,
    isolation: iso === 'serializable' ? 'serializable' : 'read committed',
    logger: opts.logger,
    metricsRegistry: opts.metricsRegistry,
    signal: opts.signal,
  });
  opts.logger.info({ bmdb: bmdb.description }, 'connected to the BMDB');
  return bmdb;
}

/** When the recoverer considers an agent dead; the shepherd and webug must agree. */
export const RECOVERY_THRESHOLD_FLAGS: readonly FlagSpec[] = [
  {
    name: 'recoverer-first-heartbeat-timeout',
    type: 'duration',
    default: SHEPHERD_DEFAULTS.recoveryThresholds.noHeartbeatAfterStartSeconds * 1000,
    ...durationFlagBounds(SHEPHERD_BOUNDS.recoveryThresholdMs),
    description: 'a started agent that has not heartbeated for this long is recovered (reboot)',
  },
  {
    name: 'recoverer-silence-timeout',
    type: 'duration',
    default: SHEPHERD_DEFAULTS.recoveryThresholds.silenceSeconds * 1000,
    ...durationFlagBounds(SHEPHERD_BOUNDS.recoveryThresholdMs),
    description: 'an agent whose last heartbeat is this old is recovered (reboot)',
  },
];

/** The thresholds in whole seconds (rounded up), as the BMDB compares them; the flags' bounds already held. */
export function recoveryThresholdsFromFlags(flags: ParsedFlags): RecoveryThresholds {
  const seconds = (name: string): number => Math.ceil(flags.number(name)! / 1000);
  return { noHeartbeatAfterStartSeconds: seconds('recoverer-first-heartbeat-timeout'), silenceSeconds: seconds('recoverer-silence-timeout') };
}

/** `--metrics-listen-address`, off unless given (every long-running command but scruffy, which always serves). */
export const METRICS_FLAGS: readonly FlagSpec[] = [
  {
    name: 'metrics-listen-address',
    type: 'string',
    placeholder: 'HOST:PORT',
    description: 'serve Prometheus metrics (process, Node.js, BMDB client and component metrics) on http://HOST:PORT/metrics; off unless given',
  },
];

/** A registry with the process and Node.js default metrics, for a command to count into. */
export function commandRegistry(): Registry {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Where --metrics-listen-address asks to serve, checked before anything starts (a bad address is a UsageError). */
export function metricsAddressFromFlags(flags: ParsedFlags): HostPort | undefined {
  const text = flags.string('metrics-listen-address');
  if (text === undefined) return undefined;
  try {
    return parseListenAddress(text);
  } catch (err) {
    if (err instanceof HostPortError) throw new UsageError(`invalid value for --metrics-listen-address: ${err.message}`);
    throw err;
  }
}

/** Serves `registry` where --metrics-listen-address says, printing the URL; undefined when the flag is not given. */
export async function serveMetricsFromFlags(
  flags: ParsedFlags,
  registry: Registry,
  ctx: { stdout: NodeJS.WritableStream; signal: AbortSignal },
): Promise<MetricsServer | undefined> {
  const at = metricsAddressFromFlags(flags);
  if (at === undefined) return undefined;
  const server = await serveMetrics(registry, { ...at, signal: ctx.signal });
  ctx.stdout.write(`metrics on http://${server.address}/metrics\n`);
  return server;
}
