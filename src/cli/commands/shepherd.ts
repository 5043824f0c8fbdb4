// bmaas shepherd: enrol machines from a provider, start the agent on them over
// SSH, and recover silent ones (when the provider can reboot). Flags mirror
// the Go original's, in kebab-case, with its defaults.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { PROVIDERS, type Backoff, type Provider as ProviderType } from '../../bmdb/index.ts';
import { Ssh2Client, SshCredentialsError, loadOrCreateSshKey, readPasswordFile, type SshAuth } from '../../shepherd/ssh/index.ts';
import { addressProblem, DeviceListError, MiniProvider } from '../../shepherd/providers/mini/index.ts';
import { AgentExecutableError, resolveAgentExecutable, runShepherd, SHEPHERD_BOUNDS, SHEPHERD_DEFAULTS, type CountBounds, type StormGuardOptions } from '../../shepherd/index.ts';
import type { Command } from '../command.ts';
import type { MetricsServer } from '../../lib/metrics-http.ts';
import {
  BMDB_FLAGS,
  commandRegistry,
  LOG_FLAGS,
  METRICS_FLAGS,
  metricsAddressFromFlags,
  openBmdbFromFlags,
  RECOVERY_THRESHOLD_FLAGS,
  recoveryThresholdsFromFlags,
  serveMetricsFromFlags,
} from '../common-flags.ts';
import { durationFlagBounds, formatPerWindow, parsePerWindow, UsageError, type FlagSpec, type ParsedFlags } from '../../lib/flags.ts';

const D = SHEPHERD_DEFAULTS;
const B = SHEPHERD_BOUNDS;
const count = (b: CountBounds) => ({ min: b.min, max: b.max });

const FLAGS: readonly FlagSpec[] = [
  { name: 'provider', type: 'string', placeholder: 'NAME', description: 'where machines come from; only `mini` (a static device list) for now' },
  { name: 'mini-device-list', type: 'string', placeholder: 'URL', description: 'device list for --provider mini: file://, http:// or https:// URL (or a path) of a JSON array of {"ID", "Addr", "Location"}; re-read on SIGHUP' },
  { name: 'mini-provider-type', type: 'string', default: 'None', placeholder: 'TYPE', description: `provider value recorded for mini machines in the BMDB: ${PROVIDERS.join(', ')}` },
  ...BMDB_FLAGS,
  { name: 'agent-executable-path', type: 'string', placeholder: 'PATH', description: 'agent executable uploaded to each machine; default: dist/bmaas-agent of this package once `npm run build:agent` built it' },
  { name: 'agent-endpoint', type: 'string', placeholder: 'HOST:PORT', description: 'agent callback server the agent reports to (required)' },
  { name: 'agent-endpoint-ca-certificate-path', type: 'string', placeholder: 'PATH', description: 'CA certificate (PEM or DER) of the agent callback server, passed to the agent; default: the system roots' },
  { name: 'agent-target-path', type: 'string', default: D.initializer.agentTargetPath, placeholder: 'PATH', description: 'where the agent is uploaded on the machine' },
  { name: 'agent-ssh-connect-timeout', type: 'duration', default: D.initializer.connectTimeoutMs, ...durationFlagBounds(B.connectTimeoutMs), description: 'bound on TCP connect, SSH handshake and authentication' },
  { name: 'agent-ssh-exec-timeout', type: 'duration', default: D.initializer.execTimeoutMs, ...durationFlagBounds(B.execTimeoutMs), description: 'bound on the whole SSH exchange: connect, upload and takeover' },
  { name: 'ssh-user', type: 'string', placeholder: 'USER', description: 'SSH login on the machines (required)' },
  { name: 'ssh-key-path', type: 'string', placeholder: 'PATH', description: 'Ed25519 private key in OpenSSH format; generated (mode 0600, public key next to it as .pub) when missing. Exclusive with --ssh-password-file' },
  { name: 'ssh-password-file', type: 'string', placeholder: 'PATH', description: 'file holding the SSH password. Exclusive with --ssh-key-path' },
  { name: 'ssh-insecure-ignore-host-key', type: 'boolean', default: false, description: 'accept any SSH host key; by default the first key a machine shows is recorded in the BMDB and a changed key is refused' },
  { name: 'provisioner-max-machines', type: 'int', default: D.provisioner.maxCount, ...count(B.maxCount), placeholder: 'N', description: 'most machines of this provider in the BMDB; 0 = no limit' },
  { name: 'provisioner-reconciler-rate', type: 'rate', default: D.provisioner.reconcileRate, placeholder: 'DURATION,COUNT', description: 'rate of provisioner rounds (token bucket: one token per DURATION, COUNT at most)' },
  { name: 'provisioner-device-creation-rate', type: 'rate', default: D.provisioner.creationRate, placeholder: 'DURATION,COUNT', description: 'rate of machine creation' },
  { name: 'provisioner-reservation-chunk-size', type: 'int', default: D.provisioner.chunkSize, ...count(B.chunkSize), placeholder: 'N', description: 'most machines created per provisioner round' },
  { name: 'initializer-db-query-rate', type: 'rate', default: D.dbQueryRate, placeholder: 'DURATION,COUNT', description: 'rate of the initializer\'s BMDB candidate queries' },
  { name: 'initializer-loop-parallelism', type: 'int', default: D.parallelism, ...count(B.parallelism), placeholder: 'N', description: 'how many agents the initializer starts at once' },
  { name: 'recoverer-db-query-rate', type: 'rate', default: D.dbQueryRate, placeholder: 'DURATION,COUNT', description: 'rate of the recoverer\'s BMDB candidate queries' },
  { name: 'recoverer-loop-parallelism', type: 'int', default: D.parallelism, ...count(B.parallelism), placeholder: 'N', description: 'how many machines the recoverer handles at once' },
  ...RECOVERY_THRESHOLD_FLAGS,
  ...METRICS_FLAGS,
  { name: 'initializer-max-attempts', type: 'int', default: D.initializer.maxAttempts, ...count(B.maxAttempts), placeholder: 'N', description: 'failed agent starts in a row after which a machine is quarantined' },
  { name: 'recoverer-max-attempts', type: 'int', default: D.recovererMaxAttempts, ...count(B.maxAttempts), placeholder: 'N', description: 'reboots without a heartbeat in between after which a machine is quarantined' },
  { name: 'recoverer-storm-guard', type: 'string', default: 'on', placeholder: 'on|off', description: 'pause recovery when the fleet looks like an outage and cap reboots; off (for a lab) disables all three checks' },
  { name: 'recoverer-storm-threshold', type: 'float', default: D.stormGuard.threshold, min: 0, max: 1, placeholder: 'SHARE', description: 'pause recovery when more than this share of started machines went silent within the last silence timeout (0.1 = 10 %)' },
  { name: 'recoverer-storm-min-machines', type: 'int', default: D.stormGuard.minMachines, ...count(B.stormMinMachines), placeholder: 'N', description: 'the silence checks engage only from this many silent machines, so a small fleet still recovers one' },
  { name: 'recoverer-heartbeat-interval', type: 'duration', default: D.stormGuard.heartbeatIntervalMs, ...durationFlagBounds(B.heartbeatIntervalMs), description: 'the agents\' heartbeat interval: no heartbeat at all for this long pauses recovery' },
  { name: 'recoverer-max-reboots', type: 'string', default: formatPerWindow(D.stormGuard.maxReboots), placeholder: 'LIMIT/DURATION', description: 'fleet-wide reboot cap: a share of the started machines (5%/10m, at least one) or a count (20/1h) per window' },
  backoffFlag('initializer', 'initial', D.initializerBackoff, 'first retry delay after a failed agent start'),
  backoffFlag('initializer', 'max', D.initializerBackoff, 'longest retry delay after failed agent starts'),
  backoffFlag('recoverer', 'initial', D.recovererBackoff, 'first retry delay after a failed reboot'),
  backoffFlag('recoverer', 'max', D.recovererBackoff, 'longest retry delay after failed reboots'),
  { name: 'shutdown-grace', type: 'duration', default: D.shutdownGraceMs, ...durationFlagBounds(B.shutdownGraceMs), description: 'how long in-flight work may finish after SIGINT/SIGTERM before it is canceled; 0 cancels at once' },
  ...LOG_FLAGS,
];

function backoffFlag(loop: 'initializer' | 'recoverer', end: 'initial' | 'max', base: Backoff, description: string): FlagSpec {
  const initial = end === 'initial';
  return {
    name: `${loop}-backoff-${end}`,
    type: 'duration',
    default: initial ? base.initialMs : base.maximumMs,
    ...durationFlagBounds(initial ? B.backoffInitialMs : B.backoffMaximumMs),
    description: initial ? `${description}; grows ×${base.exponent} per failure` : description,
  };
}

async function sshAuthFromFlags(flags: ParsedFlags, ctx: { logger: Logger; signal: AbortSignal }): Promise<SshAuth> {
  const keyPath = flags.string('ssh-key-path');
  const passwordFile = flags.string('ssh-password-file');
  if (keyPath && passwordFile) throw new UsageError('give either --ssh-key-path or --ssh-password-file, not both');
  if (!keyPath && !passwordFile) throw new UsageError('one of --ssh-key-path or --ssh-password-file is required');
  try {
    if (keyPath) {
      const key = await loadOrCreateSshKey(keyPath, { log: ctx.logger, signal: ctx.signal });
      ctx.logger.info({ path: keyPath, publicKey: key.publicKeyOpenSsh }, key.created ? 'generated an ssh key: add its public key to the machines\' authorized_keys' : 'using ssh key');
      return { privateKey: key.privateKey };
    }
    return { password: await readPasswordFile(passwordFile!, { signal: ctx.signal }) };
  } catch (err) {
    if (err instanceof SshCredentialsError) throw new UsageError(err.message + (err.cause instanceof Error ? `: ${err.cause.message}` : ''), { cause: err });
    throw err;
  }
}

/** The loop's backoff with initial and maximum from the flags; growth and jitter stay the loop's. */
function backoffFromFlags(flags: ParsedFlags, loop: 'initializer' | 'recoverer', base: Backoff): Backoff {
  const initialMs = flags.number(`${loop}-backoff-initial`)!;
  const maximumMs = flags.number(`${loop}-backoff-max`)!;
  if (maximumMs < initialMs) throw new UsageError(`--${loop}-backoff-max must be at least --${loop}-backoff-initial`);
  return { ...base, initialMs, maximumMs };
}

function stormGuardFromFlags(flags: ParsedFlags): StormGuardOptions {
  const mode = flags.string('recoverer-storm-guard')!;
  if (mode !== 'on' && mode !== 'off') throw new UsageError(`invalid value for --recoverer-storm-guard: ${JSON.stringify(mode)} (on or off)`);
  let maxReboots;
  try {
    maxReboots = parsePerWindow(flags.string('recoverer-max-reboots')!);
  } catch (err) {
    throw new UsageError(`invalid value for --recoverer-max-reboots: ${(err as Error).message}`, { cause: err });
  }
  return {
    enabled: mode === 'on',
    threshold: flags.number('recoverer-storm-threshold')!,
    minMachines: flags.number('recoverer-storm-min-machines')!,
    heartbeatIntervalMs: flags.number('recoverer-heartbeat-interval')!,
    maxReboots,
  };
}

async function agentExecutableFromFlags(flags: ParsedFlags, signal: AbortSignal): Promise<string> {
  try {
    return await resolveAgentExecutable(flags.string('agent-executable-path'), { signal });
  } catch (err) {
    if (!(err instanceof AgentExecutableError)) throw err;
    const message = err.reason === 'unreadable' ? `invalid value for --agent-executable-path: ${err.message}` : `no agent executable: ${err.message} or pass --agent-executable-path`;
    throw new UsageError(message, { cause: err });
  }
}

async function caCertificateFromFlags(flags: ParsedFlags): Promise<Uint8Array | undefined> {
  const path = flags.string('agent-endpoint-ca-certificate-path');
  if (!path) return undefined;
  try {
    return new Uint8Array(new X509Certificate(await readFile(path)).raw);
  } catch (err) {
    throw new UsageError(`invalid value for --agent-endpoint-ca-certificate-path: ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export const command: Command = {
  name: 'shepherd',
  summary: 'enrol machines from a provider, start the agent on them over SSH, recover silent ones',
  usage:
    '--provider mini --mini-device-list URL [--bmdb-url URL] [--agent-executable-path PATH] --agent-endpoint HOST:PORT\n' +
    '         [--agent-endpoint-ca-certificate-path PATH] --ssh-user USER (--ssh-key-path PATH | --ssh-password-file PATH) [flags]',
  description:
    'Runs the provisioner (enrols provider machines into the BMDB), the initializer (uploads and starts the agent over SSH, ' +
    'records its key) and the recoverer (reboots machines whose agent went silent; only for providers that can reboot). ' +
    'Any number of shepherds may run against one BMDB. SIGHUP re-reads the mini device list; SIGINT/SIGTERM stop cleanly.',
  flags: FLAGS,
  async run(flags, ctx) {
    const log = ctx.logger;
    // Everything that can be checked without the database is checked first, so a
    // typo fails fast with exit code 2 and nothing is started.
    const providerName = flags.require('provider', flags.string('provider'));
    if (providerName !== 'mini') throw new UsageError(`invalid value for --provider: ${JSON.stringify(providerName)} (supported: mini)`);
    const deviceListUrl = flags.require('mini-device-list', flags.string('mini-device-list'));
    const providerType = flags.string('mini-provider-type')!;
    if (!(PROVIDERS as readonly string[]).includes(providerType)) {
      throw new UsageError(`invalid value for --mini-provider-type: ${JSON.stringify(providerType)} (one of ${PROVIDERS.join(', ')})`);
    }
    const agentExecutablePath = await agentExecutableFromFlags(flags, ctx.signal);
    const agentEndpoint = flags.require('agent-endpoint', flags.string('agent-endpoint'));
    const endpointProblem = /:\d+$/.test(agentEndpoint) ? addressProblem(agentEndpoint) : 'expected HOST:PORT';
    if (endpointProblem) throw new UsageError(`invalid value for --agent-endpoint: ${JSON.stringify(agentEndpoint)}: ${endpointProblem}`);
    const caCertificate = await caCertificateFromFlags(flags);
    const sshUser = flags.require('ssh-user', flags.string('ssh-user'));
    const maxCount = flags.number('provisioner-max-machines')!;
    const chunkSize = flags.number('provisioner-reservation-chunk-size')!;
    const initParallelism = flags.number('initializer-loop-parallelism')!;
    const recParallelism = flags.number('recoverer-loop-parallelism')!;
    const recoveryThresholds = recoveryThresholdsFromFlags(flags);
    const initializerBackoff = backoffFromFlags(flags, 'initializer', D.initializerBackoff);
    const recovererBackoff = backoffFromFlags(flags, 'recoverer', D.recovererBackoff);
    const stormGuard = stormGuardFromFlags(flags);
    metricsAddressFromFlags(flags);
    const sshAuth = await sshAuthFromFlags(flags, ctx);

    const registry = commandRegistry();
    let provider: MiniProvider;
    try {
      provider = await MiniProvider.open({ deviceListUrl, providerType: providerType as ProviderType, metricsRegistry: registry, logger: log }, { signal: ctx.signal });
    } catch (err) {
      if (err instanceof DeviceListError) throw new UsageError(err.message, { cause: err });
      throw err;
    }

    const bmdb = await openBmdbFromFlags(flags, { logger: log, metricsRegistry: registry, signal: ctx.signal });
    let metrics: MetricsServer | undefined;
    const onHangup = (): void => {
      log.info('SIGHUP received: re-reading the device list');
      void provider.reload({ signal: ctx.signal });
    };
    process.on('SIGHUP', onHangup);
    try {
      const hostKeyMode = flags.boolean('ssh-insecure-ignore-host-key') ? 'insecure-ignore' : 'tofu';
      if (hostKeyMode === 'insecure-ignore') log.warn('--ssh-insecure-ignore-host-key: SSH host keys are not checked');
      metrics = await serveMetricsFromFlags(flags, registry, ctx);
      log.info({ provider: provider.name, providerType, deviceListUrl, agentExecutablePath }, 'shepherd starting');
      await runShepherd(
        {
          bmdb,
          provider,
          logger: log,
          metricsRegistry: registry,
          shutdownGraceMs: flags.number('shutdown-grace')!,
          provisioner: {
            maxCount,
            chunkSize,
            reconcileRate: flags.rate('provisioner-reconciler-rate')!,
            creationRate: flags.rate('provisioner-device-creation-rate')!,
          },
          initializer: {
            sshClient: new Ssh2Client({ log }),
            sshUser,
            sshAuth,
            hostKeyMode,
            connectTimeoutMs: flags.number('agent-ssh-connect-timeout')!,
            execTimeoutMs: flags.number('agent-ssh-exec-timeout')!,
            agentExecutablePath,
            agentTargetPath: flags.string('agent-target-path')!,
            agentEndpoint,
            ...(caCertificate ? { agentEndpointCaCertificate: caCertificate } : {}),
            dbQueryRate: flags.rate('initializer-db-query-rate')!,
            parallelism: initParallelism,
            backoff: initializerBackoff,
            maxAttempts: flags.number('initializer-max-attempts')!,
          },
          recoverer: {
            dbQueryRate: flags.rate('recoverer-db-query-rate')!,
            parallelism: recParallelism,
            thresholds: recoveryThresholds,
            backoff: recovererBackoff,
            maxAttempts: flags.number('recoverer-max-attempts')!,
            stormGuard,
          },
        },
        ctx.signal,
      );
      log.info('shepherd stopped');
    } finally {
      process.off('SIGHUP', onHangup);
      await provider.close(); // BMC drivers: no Redfish session is left behind
      await metrics?.close();
      await bmdb.close();
    }
    return 0;
  },
};
