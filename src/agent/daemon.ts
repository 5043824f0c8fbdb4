// `agent run`: load the state takeover left, then heartbeat until stopped.
import { execFile } from 'node:child_process';
import { readFile, rename, writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { silentLogger } from '../lib/logger.ts';
import { clientCertificate, privateKeyFromPem } from './agent-identity.ts';
import { readAgentState } from './agent-state.ts';
import { createCallbackClient } from './callback-client.ts';
import { gatherHardwareReport, type HardwareReport } from './hardware/index.ts';
import { runHeartbeatLoop } from './heartbeat-loop.ts';
import { imageInstaller, recordingInstaller, type InstallerRegistry } from './installers/index.ts';

export const PID_FILE = 'agent.pid';

export interface DaemonOptions {
  readonly stateDir: string;
  /** argv run after a successful installation was reported; default `reboot`. */
  readonly rebootCommand?: readonly string[];
  /** Record installation requests in this file instead of installing (tests, dry runs). */
  readonly testInstallerLog?: string;
  /** Let the image installer write a regular file as its target (tests, loop-back files). */
  readonly installAllowFiles?: boolean;
  /** Root of `/proc` and `/sys` for the hardware report; default `/`. */
  readonly hardwareRoot?: string;
  readonly intervalMs?: number;
  readonly callTimeoutMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * Hosts that are not a real machine (the `sim` provider runs many agents in
   * one process) replace these; by default the report is read from
   * `hardwareRoot`, installers write real images and reboot runs `rebootCommand`.
   */
  readonly hardwareReport?: () => Promise<HardwareReport>;
  readonly installers?: InstallerRegistry;
  readonly reboot?: () => Promise<void>;
  /** Keep a pid file in the state directory and stop the daemon it names; default true. */
  readonly pidFile?: boolean;
  readonly logger?: Logger;
  readonly signal: AbortSignal;
}

/** Stops an earlier daemon of this state directory (a repeated takeover made it obsolete). */
async function replacePreviousDaemon(stateDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(stateDir, PID_FILE);
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
    // Only signal it if it still looks like an agent daemon, not a recycled pid.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes('run')) {
      try {
        process.kill(pid, 'SIGTERM');
        log.info({ pid }, 'stopped the previous agent daemon');
      } catch {
        // already gone
      }
    }
  }
  // Written aside and renamed, so a reader never sees an empty pid file.
  await writeFile(`${pidFile}.tmp`, `${process.pid}\n`, { mode: 0o600 });
  await rename(`${pidFile}.tmp`, pidFile);
}

export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const log = opts.logger ?? silentLogger();
  const state = await readAgentState(opts.stateDir, { signal: opts.signal, logger: log });
  const usePidFile = opts.pidFile ?? true;
  if (usePidFile) await replacePreviousDaemon(opts.stateDir, log);
  const key = privateKeyFromPem(state.privateKeyPem);
  const callback = createCallbackClient({ endpoint: state.endpoint, caCertificate: state.caCertificate, ...(await clientCertificate(key, state.machineId)) });
  const readHardware = opts.hardwareReport ?? (() => gatherHardwareReport({ root: opts.hardwareRoot ?? '/', signal: opts.signal }));
  const hardware = await readHardware().catch((err: Error) => ({ node: undefined, warnings: [`hardware report failed: ${err.message}`] }));
  if (hardware.warnings.length) log.info({ warnings: hardware.warnings.length }, 'hardware report has warnings');
  // Metropolis requests have no installer of ours (the agent reports so); the test log records every kind.
  const installers: InstallerRegistry =
    opts.installers ??
    (opts.testInstallerLog
      ? { metropolis: recordingInstaller(opts.testInstallerLog), image: recordingInstaller(opts.testInstallerLog) }
      : { image: imageInstaller({ caCertificate: state.caCertificate, allowFiles: opts.installAllowFiles ?? false }) });
  const rebootCommand = opts.rebootCommand?.length ? opts.rebootCommand : ['reboot'];
  log.info({ machineId: state.machineId, endpoint: state.endpoint }, 'agent daemon started');
  try {
    await runHeartbeatLoop({
      machineId: state.machineId,
      client: callback.client,
      installers,
      hardwareReport: { ...(hardware.node ? { report: hardware.node } : {}), warning: hardware.warnings },
      reboot:
        opts.reboot ??
        (async () => {
          await promisify(execFile)(rebootCommand[0]!, rebootCommand.slice(1), { timeout: 60_000 });
        }),
      logger: log.child({ machineId: state.machineId }),
      signal: opts.signal,
      ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
      ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}),
      ...(opts.backoffMaxMs ? { backoffMaxMs: opts.backoffMaxMs } : {}),
    });
  } finally {
    callback.close();
    const pidFile = path.join(opts.stateDir, PID_FILE);
    // A newer daemon may own the pid file by now; only remove our own.
    if (usePidFile && (await readFile(pidFile, 'utf8').catch(() => '')).trim() === String(process.pid)) await rm(pidFile, { force: true }).catch(() => {});
    log.info('agent daemon stopped');
  }
}
