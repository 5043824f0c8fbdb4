// `bmaas dev`: the BMDB, the agent callback server, a shepherd and the web UI,
// in one process, with a live summary. Only the machines (and their BMCs) are
// simulated: the shepherd runs the `mini` provider on a device list of them
// with Redfish BMC entries, as on a real fleet; everything else is the
// production code path.
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { sleep } from '../lib/sleep.ts';
import { AgentCallbackServer, ensureDevCertificates } from '../server/index.ts';
import { runShepherd } from '../shepherd/index.ts';
import { MiniProvider } from '../shepherd/providers/mini/index.ts';
import { loadOrCreateSshKey, Ssh2Client } from '../shepherd/ssh/index.ts';
import { SimFleetThread, SimFleetWorkerError } from '../sim/index.ts';
import { startWebug, type Webug } from '../webug/index.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { ensurePrivateDir, logTightened } from './private-files.ts';
import { DEV_DEFAULTS, resolveDevTiming, validateDevOptions, type DevOptions, type DevTiming } from './dev-options.ts';
import { summarizeFleet, type FleetSummary } from './fleet-summary.ts';
import { LiveSummary, type SummaryContext } from './summary-view.ts';
import { OutageProxy } from './outage-proxy.ts';
import { devMetricsRegistry, startDevMetrics } from './dev-metrics.ts';
import { writeSimDeviceList } from './sim-device-list.ts';
import { heartbeatsNeeded, mayHaveConverged } from './convergence-gate.ts';

export type DevOutcome =
  | { readonly kind: 'converged'; readonly summary: FleetSummary; readonly elapsedMs: number }
  | { readonly kind: 'timeout'; readonly summary: FleetSummary | undefined; readonly elapsedMs: number }
  | { readonly kind: 'stopped'; readonly summary: FleetSummary | undefined; readonly elapsedMs: number };

export interface DevIo {
  /** Where the summary goes. */
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly logger: Logger;
  /** Shown as where the detailed log is written. */
  readonly logFile?: string;
}

// The uploaded "agent": simulated machines run the agent code in-process, so
// the file only has to exist (and be executable) for the SSH exchange to be real.
const AGENT_STAND_IN = '#!/bin/sh\n# bmaas dev: simulated machines run the bmaas agent in-process; this file only travels over SFTP.\nexit 0\n';

/** Runs until `signal` aborts, or with exitWhenConverged until converged or timed out. */
export async function runDev(o: DevOptions, io: DevIo, signal: AbortSignal): Promise<DevOutcome> {
  validateDevOptions(o);
  const t = resolveDevTiming(o);
  const log = io.logger;
  const dataDir = path.resolve(o.dataDir);
  logTightened(log, [ensurePrivateDir(dataDir), ensurePrivateDir(path.join(dataDir, 'sim'))]);
  const started = Date.now();
  const stack = new AsyncDisposableStack();
  try {
    stack.use(await lockDataDir(dataDir));
    const registry = devMetricsRegistry();
    const bmdb = await openDevBmdb(o, dataDir, log, signal, registry);
    stack.defer(() => bmdb.close());
    const certs = await ensureDevCertificates(path.join(dataDir, 'dev-certs'), { signal });
    const server = await AgentCallbackServer.start({
      bmdb,
      listenAddress: o.serverListenAddress,
      tls: { cert: certs.cert, key: certs.key },
      sessionIntervalMs: t.loop.sessionIntervalMs,
      logger: log,
      metricsRegistry: registry,
    });
    stack.defer(() => server.close({ graceMs: 1000 }));
    // --fault-server-outage: the agents talk to the server through a proxy that goes down for a while.
    const outage = o.serverOutage ? await OutageProxy.start({ target: server.address, outage: o.serverOutage, startedAt: started, logger: log }) : undefined;
    if (outage) stack.defer(() => outage.close());
    const sshKey = await loadOrCreateSshKey(path.join(dataDir, 'ssh', 'id_ed25519'), { log, signal });
    // The simulated machines run in a worker thread: on a machine with more than
    // one core, their half of every SSH, TLS and Redfish exchange no longer
    // competes with the system's half (and the embedded database) for one thread.
    const fleet = await SimFleetThread.start({
      dir: path.join(dataDir, 'sim'),
      machines: o.machines,
      faults: o.faults,
      bmcUnavailableShare: o.bmcUnavailableShare,
      seed: o.seed,
      authorizedKey: sshKey.publicKeyOpenSsh,
      agentEndpoint: outage?.address ?? server.address,
      timing: {
        heartbeatIntervalMs: t.heartbeatIntervalMs,
        silentAfterMs: o.silentAfterMs,
        slowSshDelayMs: o.slowSshDelayMs,
        callTimeoutMs: Math.max(1000, t.heartbeatIntervalMs * 2),
        backoffMaxMs: t.heartbeatIntervalMs * 2,
        bootDelayMs: DEV_DEFAULTS.bootDelayMs,
        bmc: DEV_DEFAULTS.bmc,
      },
      logger: log,
    });
    // Runs after the shepherd stopped (deferred later, so disposed earlier).
    stack.defer(() => fleet.stop());
    const provider = await openSimDeviceList(dataDir, fleet, t, log, signal, registry);
    stack.defer(() => provider.close());
    const agentPath = path.join(dataDir, 'sim', 'agent-stand-in');
    await writeFile(agentPath, AGENT_STAND_IN);
    await chmod(agentPath, 0o755);

    const shepherdStop = new AbortController();
    const onAbort = (): void => shepherdStop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const s = t.loop;
    log.info({ heartbeatIntervalMs: t.heartbeatIntervalMs, recovery: t.recovery, initializerParallelism: s.initializerParallelism, sshConnectTimeoutMs: s.sshConnectTimeoutMs }, 'pace of the simulated fleet');
    const shepherd = runShepherd(
      {
        bmdb,
        provider,
        logger: log,
        metricsRegistry: registry,
        shutdownGraceMs: s.shutdownGraceMs,
        sessionIntervalMs: s.sessionIntervalMs,
        provisioner: { maxCount: 0, chunkSize: s.provisionerChunkSize, reconcileRate: s.provisionerReconcileRate, creationRate: s.provisionerCreationRate },
        initializer: {
          sshClient: new Ssh2Client({ log }),
          sshUser: 'root',
          sshAuth: { privateKey: sshKey.privateKey },
          connectTimeoutMs: s.sshConnectTimeoutMs,
          execTimeoutMs: s.sshExecTimeoutMs,
          agentExecutablePath: agentPath,
          agentEndpoint: outage?.address ?? server.address,
          agentEndpointCaCertificate: certs.caCertificateDer,
          backoff: o.initializerBackoff,
          dbQueryRate: s.dbQueryRate,
          parallelism: s.initializerParallelism,
        },
        recoverer: {
          thresholds: t.recovery,
          backoff: o.recovererBackoff,
          dbQueryRate: s.dbQueryRate,
          parallelism: s.recovererParallelism,
          stormGuard: { heartbeatIntervalMs: t.heartbeatIntervalMs, threshold: s.stormThreshold, maxReboots: s.maxReboots },
        },
        updater: s.updater,
      },
      shepherdStop.signal,
    );
    // If the shepherd dies, stop waiting for convergence and report why.
    const shepherdFailed = shepherd.then(
      () => undefined,
      (err: unknown) => err,
    );
    stack.defer(async () => {
      signal.removeEventListener('abort', onAbort);
      shepherdStop.abort(new Error('bmaas dev is stopping'));
      await shepherd.catch(() => {});
    });

    const webug = await startDevWebug(o, t, bmdb, log, signal);
    if (webug) stack.defer(() => webug.close());
    const metrics = stack.use(await startDevMetrics({ registry, listenAddress: o.metricsListenAddress ?? DEV_DEFAULTS.metricsListenAddress, bmdb, machines: o.machines, thresholds: t.recovery, logger: log, signal }));

    const links: Array<[string, string]> = [];
    if (webug) links.push(['web UI', webug.url]);
    if (metrics.url) links.push(['metrics', metrics.url]);
    links.push(['agent server', `${server.address} (gRPC over TLS; CA ${certs.caCertPath})`]);
    links.push(['data', `${dataDir} (delete it to start over)`]);
    if (io.logFile) links.push(['log', io.logFile]);
    const view = new LiveSummary(io.out);
    // One summary line per refresh has no room for the links; the metrics URL is printed once.
    if (!view.interactive && metrics.url) io.out.write(`bmaas dev: metrics on ${metrics.url}\n`);
    const ctx = (): SummaryContext => ({ elapsedMs: Date.now() - started, links, footer: o.exitWhenConverged ? `exits when converged (timeout ${formatMinutes(o.timeoutMs)})` : 'Ctrl-C stops everything; the next start resumes from the stored state' });
    const intervalMs = o.summaryIntervalMs ?? (view.interactive ? 1000 : 5000);
    let summary: FleetSummary | undefined;
    let lastShown = 0;
    let pauseMs = 0;
    const needed = heartbeatsNeeded(fleet);
    while (!signal.aborted) {
      const crash = await Promise.race([shepherdFailed, fleet.failed, sleep(pauseMs, signal).then(() => undefined, () => undefined)]);
      if (crash instanceof SimFleetWorkerError) throw crash;
      if (crash !== undefined) throw new Error(`the shepherd stopped: ${(crash as Error).message ?? String(crash)}`, { cause: crash });
      if (signal.aborted) break;
      // Between two summaries, the whole fleet is read only once it may have converged.
      const shown = summary !== undefined && Date.now() - lastShown < intervalMs;
      if (o.exitWhenConverged && shown && !(await mayHaveConverged(bmdb, needed, signal).catch(() => true))) {
        pauseMs = GATED_PAUSE_MS;
        continue;
      }
      const readStarted = performance.now();
      summary = await readSummary(bmdb, t, fleet, outage, signal).catch((err: unknown) => {
        if (!signal.aborted) log.warn({ err }, 'could not read the fleet summary');
        return summary;
      });
      pauseMs = summaryPauseMs(performance.now() - readStarted);
      if (!summary) continue;
      const elapsedMs = Date.now() - started;
      if (o.exitWhenConverged && summary.convergence.converged) {
        // Where the time went: the main thread (the database when embedded, the shepherd, the server) against the fleet's.
        const main = process.threadCpuUsage();
        log.info({ elapsedMs, machines: o.machines, mainThreadCpuMs: Math.round((main.user + main.system) / 1000), fleetThreadCpuMs: fleet.cpuMs === undefined ? null : Math.round(fleet.cpuMs) }, 'converged');
        view.final(summary, ctx());
        return { kind: 'converged', summary, elapsedMs };
      }
      if (o.exitWhenConverged && elapsedMs > o.timeoutMs) {
        view.final(summary, ctx());
        return { kind: 'timeout', summary, elapsedMs };
      }
      if (Date.now() - lastShown >= intervalMs) {
        view.show(summary, ctx());
        lastShown = Date.now();
      }
    }
    if (summary) view.final(summary, ctx());
    return { kind: 'stopped', summary, elapsedMs: Date.now() - started };
  } finally {
    await stack.disposeAsync();
  }
}

async function openDevBmdb(o: DevOptions, dataDir: string, log: Logger, signal: AbortSignal, metricsRegistry: Registry): Promise<Bmdb> {
  const dir = path.join(dataDir, 'bmdb');
  if (!o.bmdbUrl) logTightened(log, [ensurePrivateDir(dir)]);
  const bmdb = await openBmdb({ url: o.bmdbUrl ?? `pglite://${dir}`, migrate: true, logger: log, metricsRegistry, signal });
  log.info({ bmdb: bmdb.description }, 'connected to the BMDB');
  return bmdb;
}

/** The fleet's device list in the data directory, opened by the `mini` provider as `bmaas shepherd --provider mini` would. */
async function openSimDeviceList(dataDir: string, fleet: SimFleetThread, t: DevTiming, log: Logger, signal: AbortSignal, metricsRegistry: Registry): Promise<MiniProvider> {
  const file = path.join(dataDir, 'devices.json');
  await writeSimDeviceList(file, fleet);
  return MiniProvider.open({ deviceListUrl: file, providerType: 'Sim', bmcTimeouts: t.loop.bmcTimeouts, checkedPower: t.loop.checkedPower, metricsRegistry, logger: log }, { signal });
}

/** The web UI on the preferred port, or any free one when that is taken. */
async function startDevWebug(o: DevOptions, t: DevTiming, bmdb: Bmdb, log: Logger, signal: AbortSignal): Promise<Webug | undefined> {
  if (o.webugListenAddress === 'off') return undefined;
  const start = (listenAddress: string) => startWebug({ bmdb, listenAddress, token: o.webugToken, logger: log, recoveryThresholds: t.recovery, signal });
  try {
    return await start(o.webugListenAddress);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const host = o.webugListenAddress.slice(0, o.webugListenAddress.lastIndexOf(':'));
    log.warn({ address: o.webugListenAddress }, 'web UI address in use; using a free port instead');
    return start(`${host}:0`);
  }
}

/** The wait after a convergence check said no, before the next one. */
const GATED_PAUSE_MS = 250;

/**
 * The wait before the next summary read: 250 ms, or longer when reading took
 * long, so that reading takes at most 5 % of the time (waits of up to 2 s).
 * The read covers the whole fleet and the embedded database runs one query at
 * a time: at 1,000 machines an unpaced summary took a good share of the
 * database from the machines it watches.
 */
export function summaryPauseMs(lastReadMs: number): number {
  return Math.min(2_000, Math.max(250, Math.round(lastReadMs * 19)));
}

async function readSummary(bmdb: Bmdb, t: DevTiming, fleet: SimFleetThread, outage: OutageProxy | undefined, signal: AbortSignal): Promise<FleetSummary> {
  const states = await bmdb.queries.listMachineStates({ provider: 'Sim', thresholds: t.recovery }, { signal });
  const guard = await bmdb.queries.getStormGuard({ signal });
  await fleet.refreshResetCounts();
  return summarizeFleet(states, fleet, {
    pause: guard.reason === null ? undefined : { reason: guard.reason, since: guard.since },
    outage: outage ? { phase: outage.phase, msUntilOver: outage.msUntilOver } : undefined,
  });
}

function formatMinutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
