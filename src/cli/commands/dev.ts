// bmaas dev (what `npm start` runs): the whole system on one machine with a
// simulated fleet. Flags only fill DevOptions; src/dev does the work.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Command } from '../command.ts';
import { RECOVERY_THRESHOLD_FLAGS, recoveryThresholdsFromFlags } from '../common-flags.ts';
import { UsageError, type ParsedFlags } from '../flags.ts';
import { DataDirBusyError, DEV_DEFAULT_FAULTS, DEV_DEFAULTS, DevOptionsError, runDev, validateDevOptions, type DevOptions } from '../../dev/index.ts';
import { FAULT_DESCRIPTIONS } from '../../sim/index.ts';

const seconds = (ms: number) => `${ms / 1000}s`;

export const command: Command = {
  name: 'dev',
  summary: 'run everything in one process on a simulated fleet (what `npm start` runs)',
  usage: '[--machines N] [--exit-when-converged] [flags]',
  description: [
    'Opens (or creates) an embedded BMDB under --data-dir and runs the agent callback server with development',
    'certificates, a shepherd (provisioner, initializer, recoverer) on the `sim` provider and the web UI. Each',
    'simulated machine is an SSH server on 127.0.0.1 whose agent is the real agent code, heartbeating to the real',
    'server over TLS. Times are shortened so the fleet converges in about a minute; the components keep the',
    'production defaults when run on their own. Restarting with the same --data-dir resumes the stored fleet.',
  ].join('\n'),
  flags: [
    { name: 'data-dir', type: 'string', default: DEV_DEFAULTS.dataDir, placeholder: 'DIR', description: 'where the database, certificates, SSH key, simulated machines and log are kept' },
    { name: 'bmdb-url', type: 'string', placeholder: 'URL', description: 'use this BMDB (e.g. postgres://…) instead of the embedded one in DATA-DIR/bmdb' },
    { name: 'machines', type: 'int', default: String(DEV_DEFAULTS.machines), placeholder: 'N', description: 'simulated machines' },
    { name: 'fault-takeover', type: 'float', default: String(DEV_DEFAULT_FAULTS.takeover), placeholder: 'FRACTION', description: FAULT_DESCRIPTIONS.takeover },
    { name: 'fault-silent', type: 'float', default: String(DEV_DEFAULT_FAULTS.silent), placeholder: 'FRACTION', description: FAULT_DESCRIPTIONS.silent },
    { name: 'fault-unreachable', type: 'float', default: String(DEV_DEFAULT_FAULTS.unreachable), placeholder: 'FRACTION', description: FAULT_DESCRIPTIONS.unreachable },
    { name: 'fault-slow-ssh', type: 'float', default: String(DEV_DEFAULT_FAULTS.slowSsh), placeholder: 'FRACTION', description: FAULT_DESCRIPTIONS.slowSsh },
    { name: 'no-faults', type: 'boolean', description: 'a healthy fleet: every --fault-* fraction 0' },
    { name: 'seed', type: 'int', default: String(DEV_DEFAULTS.seed), placeholder: 'N', description: 'which machines get which fault' },
    { name: 'server-listen-address', type: 'string', default: DEV_DEFAULTS.serverListenAddress, placeholder: 'HOST:PORT', description: 'agent callback server (port 0: any free port)' },
    { name: 'webug-listen-address', type: 'string', default: DEV_DEFAULTS.webugListenAddress, placeholder: 'HOST:PORT', description: 'web UI; a free port is used when this one is taken; `off` to disable' },
    { name: 'heartbeat-interval', type: 'duration', default: seconds(DEV_DEFAULTS.heartbeatIntervalMs), description: 'agent heartbeat interval (production: 30s)' },
    // The shepherd's flags, with short defaults (the shepherd's own are production ones).
    ...RECOVERY_THRESHOLD_FLAGS.map((f) => ({
      ...f,
      default: `${f.name === 'recoverer-silence-timeout' ? DEV_DEFAULTS.recovery.silenceSeconds : DEV_DEFAULTS.recovery.noHeartbeatAfterStartSeconds}s`,
      description: `${f.description} (production default: ${String(f.default)})`,
    })),
    { name: 'backoff-initial', type: 'duration', default: seconds(DEV_DEFAULTS.initializerBackoff.initialMs), description: 'first retry delay after a failed takeover or reboot (production: 5m and 1m)' },
    { name: 'backoff-max', type: 'duration', default: seconds(DEV_DEFAULTS.initializerBackoff.maximumMs), description: 'longest retry delay (production: 4h and 1h)' },
    { name: 'silent-after', type: 'duration', default: seconds(DEV_DEFAULTS.silentAfterMs), description: 'how long a silent-fault machine heartbeats before it hangs' },
    { name: 'slow-ssh-delay', type: 'duration', default: seconds(DEV_DEFAULTS.slowSshDelayMs), description: 'how long a slow-SSH machine takes to answer' },
    { name: 'exit-when-converged', type: 'boolean', description: 'exit 0 once converged, 1 after --timeout, printing a final summary' },
    { name: 'timeout', type: 'duration', default: '5m', description: 'with --exit-when-converged: how long to wait' },
    { name: 'summary-interval', type: 'duration', placeholder: 'DURATION', description: 'summary refresh (default 1s on a terminal, 5s otherwise)' },
    { name: 'log-file', type: 'string', placeholder: 'PATH', description: 'structured log (default DATA-DIR/dev.log; `-` for stderr)' },
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
    if (logFile !== '-') mkdirSync(path.dirname(path.resolve(logFile)), { recursive: true });
    const destination = logFile === '-' ? pino.destination(2) : pino.destination({ dest: logFile, append: true, sync: false });
    const logger = pino({ level: options.logLevel, base: { process: 'dev', pid: process.pid } }, destination);
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
          ctx.stderr.write(`bmaas dev: not converged after ${took} (--timeout); still waiting for ${waiting.length} machine(s):\n${list.join('\n')}\n`);
          return 1;
        }
        case 'stopped':
          out.write('bmaas dev: stopped; the fleet is stored and resumes on the next start\n');
          return 0;
      }
    } catch (err) {
      if (err instanceof DataDirBusyError) throw new UsageError(err.message, { cause: err });
      logger.error({ err }, 'bmaas dev failed');
      throw err;
    } finally {
      logger.flush();
    }
  },
};

function devOptionsFromFlags(flags: ParsedFlags): DevOptions {
  const level = flags.string('log-level')!;
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new UsageError(`invalid value for --log-level: ${JSON.stringify(level)}`);
  const noFaults = flags.boolean('no-faults');
  const fault = (name: string) => (noFaults ? 0 : flags.number(name)!);
  const backoff = { initialMs: flags.number('backoff-initial')!, maximumMs: flags.number('backoff-max')!, exponent: 1.5, jitter: 0.1 };
  const summaryInterval = flags.number('summary-interval');
  const bmdbUrl = flags.string('bmdb-url');
  return {
    dataDir: flags.string('data-dir')!,
    ...(bmdbUrl ? { bmdbUrl } : {}),
    machines: flags.number('machines')!,
    faults: { takeover: fault('fault-takeover'), silent: fault('fault-silent'), unreachable: fault('fault-unreachable'), slowSsh: fault('fault-slow-ssh') },
    seed: flags.number('seed')!,
    serverListenAddress: flags.string('server-listen-address')!,
    webugListenAddress: flags.string('webug-listen-address')!,
    heartbeatIntervalMs: flags.number('heartbeat-interval')!,
    recovery: recoveryThresholdsFromFlags(flags),
    initializerBackoff: backoff,
    recovererBackoff: backoff,
    silentAfterMs: flags.number('silent-after')!,
    slowSshDelayMs: flags.number('slow-ssh-delay')!,
    exitWhenConverged: flags.boolean('exit-when-converged'),
    timeoutMs: flags.number('timeout')!,
    ...(summaryInterval === undefined ? {} : { summaryIntervalMs: summaryInterval }),
    logLevel: level,
  };
}
