// Daemon mode's heart (docs/architecture.md#heartbeat-loop): heartbeat every interval; on
// failure retry with jittered exponential backoff, forever. The hardware
// report rides along until the server accepted it once; an installation
// request is installed while the heartbeats go on carrying its progress, then
// reported with the same generation, and (on success) the machine reboots.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { OSInstallationProgress_Stage, type AgentHardwareReportSchema, type AgentHeartbeatRequestSchema, type OSInstallationProgressSchema, type OSInstallationRequest } from '../proto/index.ts';
import { sleep } from '../lib/sleep.ts';
import { silentLogger } from '../lib/logger.ts';
import type { CallbackClient } from './callback-client.ts';
import { resolveHeartbeatTiming } from './heartbeat-options.ts';
import { runInstallation, type InstallationOutcome, type InstallationReportInit, type InstallerRegistry, type InstallProgress } from './installers/index.ts';

export interface HeartbeatLoopOptions {
  readonly machineId: string;
  readonly client: CallbackClient['client'];
  readonly installers: InstallerRegistry;
  /** The report sent until accepted once; undefined sends none. */
  readonly hardwareReport?: MessageInitShape<typeof AgentHardwareReportSchema>;
  /** Called after a successful installation was reported. */
  readonly reboot: () => Promise<void>;
  /** Time between heartbeats; default and bounds in HEARTBEAT_DEFAULTS / HEARTBEAT_BOUNDS. */
  readonly intervalMs?: number;
  /** Per-RPC timeout. */
  readonly callTimeoutMs?: number;
  /** First retry delay after a failed heartbeat, doubling up to backoffMaxMs. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly logger?: Logger;
  readonly random?: () => number;
  /** Ends the loop. */
  readonly signal: AbortSignal;
}

/** Delay before retry number `failures` (1-based): exponential, capped, with half of it random. */
export function retryDelayMs(failures: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(base / 2 + (base / 2) * random());
}

const STAGES: Record<InstallProgress['stage'], OSInstallationProgress_Stage> = {
  writing: OSInstallationProgress_Stage.WRITING,
  verifying: OSInstallationProgress_Stage.VERIFYING,
  'post-install': OSInstallationProgress_Stage.POST_INSTALL,
};

/** An installation under way beside the heartbeats. */
interface Running {
  readonly generation: bigint;
  progress?: InstallProgress;
  outcome?: InstallationOutcome;
  readonly done: Promise<void>;
}

function startInstallation(installers: InstallerRegistry, ir: OSInstallationRequest, signal: AbortSignal, log: Logger): Running {
  const running: { -readonly [K in keyof Running]: Running[K] } = { generation: ir.generation, done: Promise.resolve() };
  running.done = runInstallation(installers, ir, { signal, logger: log, progress: (p) => (running.progress = p) }).then((o) => {
    running.outcome = o;
  });
  return running;
}

function progressMessage(r: Running): MessageInitShape<typeof OSInstallationProgressSchema> {
  const p = r.progress;
  return { generation: r.generation, ...(p ? { stage: STAGES[p.stage], bytesDone: BigInt(p.bytesDone), bytesTotal: BigInt(p.bytesTotal) } : {}) };
}

/** Runs until the signal aborts; never throws for RPC or installation trouble. */
export async function runHeartbeatLoop(opts: HeartbeatLoopOptions): Promise<void> {
  const log = opts.logger ?? silentLogger();
  const { intervalMs, callTimeoutMs, backoffInitialMs, backoffMaxMs } = resolveHeartbeatTiming(opts);
  const { signal } = opts;
  let hardwareAccepted = opts.hardwareReport === undefined;
  let report: InstallationReportInit | undefined;
  let rebootAfterReport = false;
  let installedGeneration: bigint | undefined;
  let running: Running | undefined;
  let failures = 0;
  let accepted = false;

  while (!signal.aborted) {
    const request: MessageInitShape<typeof AgentHeartbeatRequestSchema> = {
      machineId: opts.machineId,
      ...(hardwareAccepted ? {} : { hardwareReport: opts.hardwareReport }),
      ...(report ? { installationReport: report } : {}),
      ...(running ? { installationProgress: progressMessage(running) } : {}),
    };
    let response;
    try {
      response = await opts.client.heartbeat(request, { signal, timeoutMs: callTimeoutMs });
    } catch (err) {
      if (signal.aborted) break;
      failures++;
      const delay = retryDelayMs(failures, backoffInitialMs, backoffMaxMs, opts.random);
      // Right after takeover the server may not know our key yet (the
      // initializer records it once our answer reached it): expected, not alarming.
      const notYetKnown = !accepted && err instanceof ConnectError && err.code === Code.Unauthenticated;
      if (notYetKnown) log.info({ failures, retryInMs: delay }, 'server does not know this agent yet (takeover still being recorded?); retrying');
      else log.warn({ err: (err as Error).message, failures, retryInMs: delay }, 'heartbeat failed');
      await sleep(delay, signal);
      continue;
    }
    if (failures > 0) log.info({ failures }, 'heartbeat succeeded again');
    failures = 0;
    accepted = true;
    if (!hardwareAccepted) {
      hardwareAccepted = true;
      log.info('hardware report accepted');
    }
    if (report) {
      log.info({ generation: String(report.generation) }, 'installation report accepted');
      report = undefined;
      if (rebootAfterReport) {
        rebootAfterReport = false;
        log.info('rebooting into the installed system');
        try {
          await opts.reboot();
        } catch (err) {
          log.error({ err }, 'reboot failed');
        }
      }
    }
    if (running?.outcome) {
      const { outcome } = running;
      running = undefined;
      report = outcome.report;
      rebootAfterReport = outcome.succeeded;
      if (!outcome.succeeded) log.error({ generation: String(outcome.report.generation), result: outcome.report.result }, 'installation failed');
      continue; // report it right away
    }
    const ir = response.installationRequest;
    // One installation at a time; once started it runs to its end (a request
    // withdrawn meanwhile still gets its report).
    if (ir && !running && ir.generation !== installedGeneration) {
      installedGeneration = ir.generation;
      log.info({ generation: ir.generation.toString(), kind: ir.type.case ?? 'unknown' }, 'installing');
      running = startInstallation(opts.installers, ir, signal, log);
    }
    // Wake early when the installation ends, so its report goes out at once.
    const wake = new AbortController();
    void running?.done.then(() => wake.abort());
    await sleep(intervalMs, AbortSignal.any([signal, wake.signal]));
  }
  // The installer saw the same signal; let it close the device before returning.
  await running?.done;
}
