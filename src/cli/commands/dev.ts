// bmaas dev (what `npm start` runs): the whole system on one machine with a
// simulated fleet. Flags only fill DevOptions; src/dev does the work.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Command } from '../command.ts';
import { RECOVERY_THRESHOLD_FLAGS } from '../common-flags.ts';
import { durationFlagBounds, formatFlagDefault, UsageError, type FlagSpec, type ParsedFlags } from '../../lib/flags.ts';
import { formatDuration, type DurationBounds } from '../../lib/duration.ts';
import { LOG_SERIALIZERS } from '../../lib/log-serializers.ts';
import type { Backoff } from '../../bmdb/index.ts';
import { HEARTBEAT_DEFAULTS } from '../../agent/index.ts';
import {
  DataDirBusyError,
  DEV_COUNT_BOUNDS,
  DEV_DEFAULT_FAULTS,
  DEV_DEFAULTS,
  DEV_DURATION_BOUNDS,
  DEV_FLEET_HEARTBEATS_PER_SECOND,
  DevOptionsError,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  logTightened,
  parseServerOutage,
  runDev,
  tightenMode,
  validateDevOptions,
  type DevOptions,
  type ServerOutage,
} from '../../dev/index.ts';
import { SHEPHERD_DEFAULTS } from '../../shepherd/index.ts';
import { FAULT_DESCRIPTIONS } from '../../sim/index.ts';
import { WEBUG_TOKEN_ENV, WebugConfigError } from '../../webug/index.ts';

const B = DEV_DURATION_BOUNDS;

function duration(name: string, defaultMs: number | undefined, bounds: DurationBounds, description: string): FlagSpec {
  return { name, type: 'duration', ...(defaultMs === undefined ? {} : { default: defaultMs }), ...durationFlagBounds(bounds), description };
}

function fault(kind: keyof typeof DEV_DEFAULT_FAULTS, name: string): FlagSpec {
  return { name, type: 'float', default: DEV_DEFAULT_FAULTS[kind], min: 0, max: 1, placeholder: 'FRACTION', description: FAULT_DESCRIPTIONS[kind] };
}

/** The shepherd's initializer and recoverer values, e.g. "5m and 1m". */
function productionBackoffs(key: 'initialMs' | 'maximumMs'): string {
  const shown = (b: Backoff) => formatDuration(b[key] ?? 0);
  return `${shown(SHEPHERD_DEFAULTS.initializerBackoff)} and ${shown(SHEPHERD_DEFAULTS.recovererBackoff)}`;
}

export const command: Command = {
  name: 'dev',
  summary: 'run everything in one process on a simulated fleet (what `npm start` runs)',
  usage: '[--machines N] [--exit-when-converged] [flags]',
  description: [
    'Opens (or creates) an embedded BMDB under --data-dir and runs the agent callback server with development',
    'certificates, a shepherd (provisioner, initializer, recoverer, updater) and the web UI. Each simulated machine',
    'is an SSH server on 127.0.0.1 whose agent is the real agent code, heartbeating to the real server over TLS,',
    'plus a Redfish BMC (HTTPS on 127.0.0.1, its own password) whose resets really restart it. The shepherd runs',
    'the `mini` provider on DATA-DIR/devices.json, a device list of these machines with their BMCs. Times are',
    'shortened so the fleet converges in about a minute; the components keep the production defaults when run on',
    'their own. Restarting with the same --data-dir resumes the stored fleet.',
  ].join('\n'),
  flags: [
    { name: 'data-dir', type: 'string', default: DEV_DEFAULTS.dataDir, placeholder: 'DIR', description: 'where the database, certificates, SSH key, simulated machines and log are kept (mode 0700)' },
    { name: 'bmdb-url', type: 'string', placeholder: 'URL', description: 'use this BMDB (e.g. postgres://…) instead of the embedded one in DATA-DIR/bmdb' },
    { name: 'machines', type: 'int', default: DEV_DEFAULTS.machines, ...DEV_COUNT_BOUNDS.machines, placeholder: 'N', description: 'simulated machines' },
    fault('takeover', 'fault-takeover'),
    fault('silent', 'fault-silent'),
    fault('unreachable', 'fault-unreachable'),
    fault('slowSsh', 'fault-slow-ssh'),
    fault('dead', 'fault-dead'),
    { name: 'no-faults', type: 'boolean', description: 'a healthy fleet: every --fault-* fraction you do not give is 0' },
    { name: 'fault-bmc-503', type: 'float', default: DEV_DEFAULTS.bmcUnavailableShare, min: 0, max: 0.9, placeholder: 'FRACTION', description: 'share of simulated BMC requests answered 503 Service Unavailable (the drivers retry them)' },
    { name: 'fault-server-outage', type: 'string', placeholder: 'DURATION@START', description: 'agents cannot reach the callback server for DURATION, from START after the start (e.g. 30s@40s)' },
    { name: 'seed', type: 'int', default: DEV_DEFAULTS.seed, ...DEV_COUNT_BOUNDS.seed, placeholder: 'N', description: 'which machines get which fault' },
    { name: 'server-listen-address', type: 'string', default: DEV_DEFAULTS.serverListenAddress, placeholder: 'HOST:PORT', description: 'agent callback server (port 0: any free port)' },
    { name: 'webug-listen-address', type: 'string', default: DEV_DEFAULTS.webugListenAddress, placeholder: 'HOST:PORT', description: 'web UI; a free port is used when this one is taken; `off` to disable' },
    { name: 'metrics-listen-address', type: 'string', default: DEV_DEFAULTS.metricsListenAddress, placeholder: 'HOST:PORT', description: 'Prometheus metrics, stats exporter included, on http://HOST:PORT/metrics; a free port is used when this one is taken; `off` to disable' },
    { name: 'webug-token', type: 'string', env: WEBUG_TOKEN_ENV, secret: true, placeholder: 'TOKEN', description: 'web UI access token (at least 16 characters); required when --webug-listen-address is not loopback' },
    duration(
      'heartbeat-interval',
      undefined,
      B.heartbeatIntervalMs,
      `agent heartbeat interval (default ${formatDuration(DEV_DEFAULTS.heartbeatIntervalMs)}, longer above ${DEV_FLEET_HEARTBEATS_PER_SECOND * DEV_DEFAULTS.heartbeatIntervalMs / 1000} machines: at most ${DEV_FLEET_HEARTBEATS_PER_SECOND} heartbeats/s; production: ${formatDuration(HEARTBEAT_DEFAULTS.intervalMs)})`,
    ),
    // The shepherd's flags, with short defaults (the shepherd's own are production ones).
    ...RECOVERY_THRESHOLD_FLAGS.map((f) => {
      const { default: _production, ...flag } = f;
      const short = 1000 * (f.name === 'recoverer-silence-timeout' ? DEV_DEFAULTS.recovery.silenceSeconds : DEV_DEFAULTS.recovery.noHeartbeatAfterStartSeconds);
      return { ...flag, description: `${f.description} (default ${formatDuration(short)} or 4 heartbeat intervals, whichever is longer; production default: ${formatFlagDefault(f)})` } as FlagSpec;
    }),
    duration('backoff-initial', DEV_DEFAULTS.initializerBackoff.initialMs, B.backoffInitialMs, `first retry delay after a failed takeover or reboot (production: ${productionBackoffs('initialMs')})`),
    duration('backoff-max', DEV_DEFAULTS.initializerBackoff.maximumMs, B.backoffMaximumMs, `longest retry delay (production: ${productionBackoffs('maximumMs')})`),
    duration('silent-after', DEV_DEFAULTS.silentAfterMs, B.silentAfterMs, 'how long a silent-fault machine heartbeats before it hangs'),
    duration('slow-ssh-delay', DEV_DEFAULTS.slowSshDelayMs, B.slowSshDelayMs, 'how long a slow-SSH machine takes to answer'),
    { name: 'exit-when-converged', type: 'boolean', description: 'exit 0 once converged, 1 after --timeout, printing a final summary' },
    duration('timeout', DEV_DEFAULTS.timeoutMs, B.timeoutMs, 'with --exit-when-converged: how long to wait'),
    duration('summary-interval', undefined, B.summaryIntervalMs, 'summary refresh (default 1s on a terminal, 5s otherwise)'),
    { name: 'log-file', type: 'string', placeholder: 'PATH', description: 'structured log, mode 0600 (default DATA-DIR/dev.log; `-` for stderr)' },
    { name: 'log-level', type: 'string', default: DEV_DEFAULTS.logLevel, placeholder: 'LEVEL', description: 'trace, debug, info, warn, error or silent' },
  ],
  async run(flags, ctx) {
    const options = devOptionsFromFlags(flags);
    try {
      validateDevOptions(options);
    } catch (err) {
      if (err instanceof DevOptionsError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
    const dataDir = path.resolve(options.dataDir);
    const logFile = flags.string('log-file') ?? path.join(dataDir, 'dev.log');
    if (logFile !== '-') mkdirSync(path.dirname(path.resolve(logFile)), { recursive: true, mode: PRIVATE_DIR_MODE });
    const tightenedLog = logFile === '-' ? undefined : tightenMode(logFile, PRIVATE_FILE_MODE);
    const destination = logFile === '-' ? pino.destination(2) : pino.destination({ dest: logFile, append: true, sync: false, mode: PRIVATE_FILE_MODE });
    const logger = pino({ level: options.logLevel, base: { process: 'dev', pid: process.pid }, serializers: LOG_SERIALIZERS }, destination);
    logTightened(logger, [tightenedLog]);
    const out = ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    out.write(`bmaas dev: starting ${options.machines} simulated machines in ${dataDir}${logFile === '-' ? '' : ` (log: ${logFile})`}\n`);
    try {
      const outcome = await runDev(options, { out, logger, ...(logFile === '-' ? {} : { logFile }) }, ctx.signal);
      const took = `${Math.round(outcome.elapsedMs / 1000)}s`;
      switch (outcome.kind) {
        case 'converged':
          out.write(`bmaas dev: converged after ${took}\n`);
          return 0;
        case 'timeout': {
          const waiting = outcome.summary?.convergence.waitingFor ?? [];
          const list = waiting.slice(0, 10).map((w) => `  ${w.providerId}${w.fault === 'none' ? '' : ` [${w.fault}]`}: ${w.reason}`);
          const fleetWaits = (outcome.summary?.convergence.fleetWaits ?? []).map((w) => `  ${w}\n`).join('');
          ctx.stderr.write(`bmaas dev: not converged after ${took} (--timeout); still waiting for ${waiting.length} machine(s):\n${list.join('\n')}\n${fleetWaits}`);
          return 1;
        }
        case 'stopped':
          out.write('bmaas dev: stopped; the fleet is stored and resumes on the next start\n');
          return 0;
      }
    } catch (err) {
      if (err instanceof DataDirBusyError || err instanceof WebugConfigError) throw new UsageError(err.message, { cause: err });
      logger.error({ err }, 'bmaas dev failed');
      throw err;
    } finally {
      logger.flush();
    }
  },
};

/** The DevOptions the flags say; validated by validateDevOptions. */
export function devOptionsFromFlags(flags: ParsedFlags): DevOptions {
  const level = flags.string('log-level')!;
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new UsageError(`invalid value for --log-level: ${JSON.stringify(level)}`);
  // --no-faults zeroes the fault defaults; a --fault-* given as well still counts.
  const noFaults = flags.boolean('no-faults');
  const fault = (name: string) => (noFaults && !flags.given(name) ? 0 : flags.number(name)!);
  const backoff = { initialMs: flags.number('backoff-initial')!, maximumMs: flags.number('backoff-max')!, exponent: 1.5, jitter: 0.1 };
  const summaryInterval = flags.number('summary-interval');
  const bmdbUrl = flags.string('bmdb-url');
  // Left out, these follow the fleet's size (resolveDevTiming).
  const heartbeatIntervalMs = flags.number('heartbeat-interval');
  const firstHeartbeatMs = flags.number('recoverer-first-heartbeat-timeout');
  const silenceMs = flags.number('recoverer-silence-timeout');
  return {
    dataDir: flags.string('data-dir')!,
    ...(bmdbUrl ? { bmdbUrl } : {}),
    machines: flags.number('machines')!,
    faults: { takeover: fault('fault-takeover'), silent: fault('fault-silent'), unreachable: fault('fault-unreachable'), slowSsh: fault('fault-slow-ssh'), dead: fault('fault-dead') },
    bmcUnavailableShare: fault('fault-bmc-503'),
    seed: flags.number('seed')!,
    serverListenAddress: flags.string('server-listen-address')!,
    webugListenAddress: flags.string('webug-listen-address')!,
    metricsListenAddress: flags.string('metrics-listen-address')!,
    ...(flags.string('webug-token') ? { webugToken: flags.string('webug-token')! } : {}),
    ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
    recovery: {
      ...(firstHeartbeatMs === undefined ? {} : { noHeartbeatAfterStartSeconds: Math.ceil(firstHeartbeatMs / 1000) }),
      ...(silenceMs === undefined ? {} : { silenceSeconds: Math.ceil(silenceMs / 1000) }),
    },
    initializerBackoff: backoff,
    recovererBackoff: backoff,
    silentAfterMs: flags.number('silent-after')!,
    slowSshDelayMs: flags.number('slow-ssh-delay')!,
    ...serverOutageFromFlags(flags),
    exitWhenConverged: flags.boolean('exit-when-converged'),
    timeoutMs: flags.number('timeout')!,
    ...(summaryInterval === undefined ? {} : { summaryIntervalMs: summaryInterval }),
    logLevel: level,
  };
}

function serverOutageFromFlags(flags: ParsedFlags): { serverOutage?: ServerOutage } {
  const text = flags.string('fault-server-outage');
  if (text === undefined) return {};
  try {
    return { serverOutage: parseServerOutage(text) };
  } catch (err) {
    throw new UsageError(`invalid value for --fault-server-outage: ${(err as Error).message}`, { cause: err });
  }
}
