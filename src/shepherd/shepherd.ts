// The shepherd as one unit: the provisioner, the initializer and (when the
// provider can reboot) the recoverer, run side by side until a signal aborts.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Backoff, Bmdb, RecoveryThresholds } from '../bmdb/index.ts';
import { ControlLoopRunner } from '../controlloop/index.ts';
import { silentLogger } from '../lib/logger.ts';
import type { RateLimit } from '../lib/rate.ts';
import { Initializer, type InitializerOptions } from './initializer.ts';
import { canRecover, type Provider, type RecovererProvider } from './provider.ts';
import { Provisioner, type ProvisionerOptions } from './provisioner.ts';
import { Recoverer } from './recoverer.ts';
import { checkShepherdOptions, DEFAULT_DB_QUERY_RATE } from './shepherd-options.ts';
import { canReportStatus, Updater, type UpdaterOptions } from './updater.ts';
import { StormGuard, type StormGuardOptions } from './storm-guard.ts';

export interface LoopSettings {
  /** Default `250ms,8`. */
  readonly dbQueryRate?: RateLimit;
  /** Default 1. */
  readonly parallelism?: number;
}


export interface ShepherdOptions {
  readonly bmdb: Bmdb;
  readonly provider: Provider;
  readonly provisioner?: Omit<ProvisionerOptions, 'logger'>;
  readonly initializer: Omit<InitializerOptions, 'provider' | 'logger'> & LoopSettings;
  /** Runs when the provider reports machine status (the mini provider with BMCs). */
  readonly updater?: Omit<UpdaterOptions, 'logger'>;
  readonly recoverer?: LoopSettings & {
    readonly thresholds?: RecoveryThresholds;
    readonly backoff?: Backoff;
    /** Reboots without a heartbeat in between before quarantine; default 3. */
    readonly maxAttempts?: number;
    readonly stormGuard?: StormGuardOptions;
  };
  /** Where the shepherd's metrics go (the storm guard's: prom-client's default registry unless given; the others: none). */
  readonly metricsRegistry?: Registry;
  /** How long in-flight work may run on after the signal; default and bounds in shepherd-options.ts. */
  readonly shutdownGraceMs?: number;
  /** BMDB session interval of the initializer's and recoverer's workers; default the BMDB's. */
  readonly sessionIntervalMs?: number;
  readonly logger?: Logger;
}

/** Runs every part until `signal` aborts and all of them have stopped. */
export async function runShepherd(options: ShepherdOptions, signal: AbortSignal): Promise<void> {
  checkShepherdOptions(options);
  const log = options.logger ?? silentLogger();
  const { bmdb, provider } = options;
  const { dbQueryRate: initRate, parallelism: initParallelism, ...initializerOptions } = options.initializer;
  const provisioner = new Provisioner(bmdb, provider, { ...options.provisioner, logger: log });
  const metricsRegistry = options.metricsRegistry ? { metricsRegistry: options.metricsRegistry } : {};
  const initializer = new ControlLoopRunner(bmdb, new Initializer({ ...initializerOptions, provider, logger: log, ...metricsRegistry }), {
    dbQueryRate: initRate ?? DEFAULT_DB_QUERY_RATE,
    ...(initParallelism === undefined ? {} : { parallelism: initParallelism }),
    ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
    ...(options.sessionIntervalMs === undefined ? {} : { sessionIntervalMs: options.sessionIntervalMs }),
    ...metricsRegistry,
    logger: log,
  });
  const parts: Array<Promise<void>> = [provisioner.run(signal), initializer.run(signal)];
  if (canReportStatus(provider)) parts.push(new Updater(bmdb, provider, { ...options.updater, logger: log }).run(signal));
  if (canRecover(provider) && (await rebootsAny(provider, log, signal))) {
    const r = options.recoverer ?? {};
    const stormGuard = new StormGuard({
      ...(r.stormGuard ? { options: r.stormGuard } : {}),
      ...(r.thresholds ? { thresholds: r.thresholds } : {}),
      ...metricsRegistry,
      logger: log,
    });
    if (!stormGuard.options.enabled) log.warn('recoverer storm guard is off: a callback-server or network outage can make the recoverer reboot the whole fleet');
    const recoverer = new ControlLoopRunner(
      bmdb,
      // A machine the provider cannot reboot (an entry without a BMC) fails its
      // recovery with that cause and backs off, so it never blocks the queue and
      // webug shows why. Filtering candidates instead would starve the machines
      // behind it: candidates come oldest due first.
      new Recoverer({
        provider,
        logger: log,
        stormGuard,
        ...(r.thresholds ? { thresholds: r.thresholds } : {}),
        ...(r.backoff ? { backoff: r.backoff } : {}),
        ...(r.maxAttempts === undefined ? {} : { maxAttempts: r.maxAttempts }),
        ...metricsRegistry,
      }),
      {
        dbQueryRate: r.dbQueryRate ?? DEFAULT_DB_QUERY_RATE,
        ...(r.parallelism === undefined ? {} : { parallelism: r.parallelism }),
        ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
        ...(options.sessionIntervalMs === undefined ? {} : { sessionIntervalMs: options.sessionIntervalMs }),
        ...metricsRegistry,
        logger: log,
      },
    );
    parts.push(stormGuard.run(bmdb, signal));
    parts.push(recoverer.run(signal));
  } else {
    log.warn({ provider: provider.name }, `recoverer disabled: provider ${provider.name} cannot reboot machines (for mini: no entry has a BMC), so silent agents are not recovered`);
  }
  // allSettled: one part failing must not leave the others running unobserved.
  const results = await Promise.allSettled(parts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Whether any machine can be rebooted (a provider without canReboot reboots all); logs the ones that cannot. */
async function rebootsAny(provider: RecovererProvider, log: Logger, signal: AbortSignal): Promise<boolean> {
  if (provider.canReboot === undefined) return true;
  const machines = await provider.listMachines({ signal });
  const notRebootable = machines.filter((m) => !provider.canReboot!(m.id)).map((m) => m.id);
  if (notRebootable.length > 0) {
    log.warn({ provider: provider.name, providerIds: notRebootable.slice(0, 20), count: notRebootable.length }, 'these machines cannot be rebooted (no BMC) and are never recovered');
  }
  return notRebootable.length < machines.length;
}
