// Options of `bmaas dev`: the whole system in one process on a simulated
// fleet. Every duration that decides how fast the fleet moves is here, set
// short so a run converges in about a minute; the components' own defaults
// (docs/architecture.md#recoverer: 30 min to a first heartbeat, 10 min of silence, minutes of
// backoff) are untouched and stay what `bmaas shepherd` and friends use.
import type { Backoff, RecoveryThresholds } from '../bmdb/index.ts';
import { parseListenAddress } from '../lib/host-port.ts';
import type { BmcTimeouts, CheckedPowerOptions } from '../shepherd/bmc/index.ts';
import { checkDuration, type DurationBounds } from '../lib/duration.ts';
import type { PerWindowLimit } from '../lib/flags.ts';
import type { RateLimit } from '../lib/rate.ts';
import { SHEPHERD_BOUNDS } from '../shepherd/index.ts';
import type { ServerOutage } from './outage-proxy.ts';
import { MAX_SIM_MACHINES, validateFaultFractions, type FaultFractions } from '../sim/index.ts';

export interface DevOptions {
  /** Everything `bmaas dev` keeps: database, certificates, SSH key, simulated machines, log. Default `.bmaas`. */
  readonly dataDir: string;
  /** A BMDB URL instead of the embedded database in `<dataDir>/bmdb`. */
  readonly bmdbUrl?: string;
  /** Simulated machines; default 50. */
  readonly machines: number;
  readonly faults: FaultFractions;
  /** `--fault-bmc-503`: share of simulated BMC requests answered 503 (the drivers retry); default 0. */
  readonly bmcUnavailableShare: number;
  /** Picks which machines get which fault; default 1. */
  readonly seed: number;
  /** Callback server; default 127.0.0.1:0 (any free port: agents are told where it is). */
  readonly serverListenAddress: string;
  /** Web UI; default 127.0.0.1:8081, falling back to a free port when taken. `off` disables it. */
  readonly webugListenAddress: string;
  /** Prometheus metrics (and the embedded stats exporter); default 127.0.0.1:9180, falling back to a free port when taken. `off` disables them. */
  readonly metricsListenAddress?: string;
  /** Access token of the web UI, required when it listens off loopback (at least 16 characters). */
  readonly webugToken?: string;
  /** Default: DEV_DEFAULTS.heartbeatIntervalMs, longer for a large fleet (see resolveDevTiming). */
  readonly heartbeatIntervalMs?: number;
  /** Each threshold not given follows the heartbeat interval (see resolveDevTiming). */
  readonly recovery?: Partial<RecoveryThresholds>;
  readonly initializerBackoff: Backoff;
  readonly recovererBackoff: Backoff;
  /** How long a `silent` machine heartbeats before it hangs. */
  readonly silentAfterMs: number;
  readonly slowSshDelayMs: number;
  /** `--fault-server-outage`: agents cannot reach the callback server for this window. */
  readonly serverOutage?: ServerOutage;
  readonly exitWhenConverged: boolean;
  /** With exitWhenConverged: give up (exit 1) after this long. Default 5 min. */
  readonly timeoutMs: number;
  /** How often the summary is refreshed; default 1 s on a terminal, 5 s otherwise. */
  readonly summaryIntervalMs?: number;
  readonly logLevel: string;
}

/** The fault mix `npm start` shows: a few of each, most machines healthy. */
export const DEV_DEFAULT_FAULTS: FaultFractions = Object.freeze({ takeover: 0.06, silent: 0.1, unreachable: 0.04, slowSsh: 0.1, dead: 0 });

export const DEV_DEFAULTS = Object.freeze({
  dataDir: '.bmaas',
  machines: 50,
  seed: 1,
  serverListenAddress: '127.0.0.1:0',
  webugListenAddress: '127.0.0.1:8081',
  metricsListenAddress: '127.0.0.1:9180',
  heartbeatIntervalMs: 2_000,
  recovery: Object.freeze({ noHeartbeatAfterStartSeconds: 20, silenceSeconds: 10 }),
  initializerBackoff: Object.freeze({ initialMs: 5_000, maximumMs: 30_000, exponent: 1.5, jitter: 0.1 }),
  recovererBackoff: Object.freeze({ initialMs: 5_000, maximumMs: 30_000, exponent: 1.5, jitter: 0.1 }),
  silentAfterMs: 8_000,
  slowSshDelayMs: 3_000,
  bmcUnavailableShare: 0,
  // A simulated reset: off a second after the BMC accepted it, on again 1.5 s
  // later, SSH back 2 s after that (real BMCs take seconds to minutes).
  bootDelayMs: 2_000,
  bmc: Object.freeze({ resetDelayMs: 1_000, offMs: 1_500 }),
  timeoutMs: 5 * 60_000,
  logLevel: 'info',
});

export interface DevLoopSettings {
  readonly provisionerReconcileRate: RateLimit;
  readonly provisionerCreationRate: RateLimit;
  readonly provisionerChunkSize: number;
  readonly dbQueryRate: RateLimit;
  readonly initializerParallelism: number;
  readonly recovererParallelism: number;
  readonly sshConnectTimeoutMs: number;
  readonly sshExecTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly sessionIntervalMs: number;
  readonly stormThreshold: number;
  readonly maxReboots: PerWindowLimit;
  /** How the mini provider waits for a simulated BMC to show a reset. */
  readonly checkedPower: Omit<CheckedPowerOptions, 'signal'>;
  readonly bmcTimeouts: BmcTimeouts;
  /** The updater's pace: power states of the simulated BMCs in the Provided tags. */
  readonly updater: { readonly changedRecheckMs: number; readonly settledRecheckMs: number; readonly roundIntervalMs: number; readonly rate: RateLimit };
}

/** Loop settings that keep up with a small fleet on a fast clock; devLoopSettings scales them to larger ones. */
export const DEV_LOOP_SETTINGS: DevLoopSettings = Object.freeze({
  provisionerReconcileRate: Object.freeze({ intervalMs: 1_000, burst: 1 }),
  provisionerCreationRate: Object.freeze({ intervalMs: 20, burst: 20 }),
  provisionerChunkSize: 25,
  // Caps claims per second, shared by a loop's workers; idle workers slow down on their own.
  dbQueryRate: Object.freeze({ intervalMs: 10, burst: 16 }),
  initializerParallelism: 8,
  recovererParallelism: 4,
  // Everything, the SSH servers of the simulated machines included, shares one
  // process: a handshake that waits for a busy event loop or a busy embedded
  // database is the system's own load, not an unreachable machine. Only
  // `unreachable` machines (which never answer) should run into this. At 10 s
  // (and a 30 s exec timeout) a run of 1,000 machines on a starved machine
  // still had 17 such spurious failures.
  sshConnectTimeoutMs: 20_000,
  sshExecTimeoutMs: 60_000,
  shutdownGraceMs: 2_000,
  // BMDB sessions of the shepherd's workers and the callback server. With the
  // default 5 s, a session whose keep-alive waited that long behind the busy
  // embedded database expired and took its workers' takeovers with it (116
  // expiries in one run of 1,000 machines). Nobody else shares this BMDB, so
  // there are no crashed instances whose locks would wait longer for collection.
  sessionIntervalMs: 30_000,
  // The storm guard on dev's fast clock: the deliberate fault mix (a tenth of
  // the fleet goes silent) must not trip it, an outage of the callback server must.
  stormThreshold: 0.25,
  maxReboots: Object.freeze({ kind: 'share', share: 0.25, windowMs: 30_000 }) as PerWindowLimit,
  // A simulated reset shows within about 3 s; one that does not within 10 s
  // (a `dead` machine) fails the recovery, which backs off and escalates.
  checkedPower: Object.freeze({ pollIntervalMs: 500, confirmTimeoutMs: 10_000 }),
  bmcTimeouts: Object.freeze({ requestMs: 5_000, attempts: 5, backoffInitialMs: 200, backoffMaxMs: 2_000 }),
  // Settled machines every 30 s, so a machine that went Off (a `dead` one) shows `Stopped` within a run.
  updater: Object.freeze({ changedRecheckMs: 10_000, settledRecheckMs: 30_000, roundIntervalMs: 2_000, rate: Object.freeze({ intervalMs: 50, burst: 20 }) }),
});

/** Fleets above this size get the larger settings of devLoopSettings. */
const LARGE_FLEET = 200;

/**
 * The loop settings for a fleet of `machines`. A large fleet is enrolled in
 * larger chunks (at 25 a second, 1,000 machines would take 40 s just to be
 * provided) and taken over by more workers at once; not many more, because
 * everything shares one process and each idle worker polls the database. For
 * the same reason the recoverer gets fewer: its candidate query is the
 * costliest one (it looks at every heartbeat), and with a healthy fleet all
 * it does is poll.
 */
export function devLoopSettings(machines: number): DevLoopSettings {
  if (machines <= LARGE_FLEET) return DEV_LOOP_SETTINGS;
  return Object.freeze({
    ...DEV_LOOP_SETTINGS,
    provisionerCreationRate: Object.freeze({ intervalMs: 2, burst: 100 }),
    provisionerChunkSize: 100,
    initializerParallelism: 16,
    recovererParallelism: 2,
  });
}

/**
 * How many heartbeats per second the whole simulated fleet sends at most by
 * default. Every agent, its TLS connection, the callback server and the
 * embedded database share one process, and a heartbeat costs it about 3 ms
 * of CPU (TLS, HTTP/2, gRPC on both ends, a transaction of six statements).
 * At the 2 s interval a fleet of 1,000 would send 500 a second, more than the
 * process has; larger fleets heartbeat less often instead (1,000: every 40 s).
 */
export const DEV_FLEET_HEARTBEATS_PER_SECOND = 25;

/** How many heartbeat intervals of silence the recovery thresholds allow at least (a late or retried beat is not a dead agent). */
export const DEV_SILENCE_INTERVALS = 4;

/** The pace of a run: what DevOptions gave, the rest derived from the fleet's size. */
export interface DevTiming {
  readonly heartbeatIntervalMs: number;
  readonly recovery: RecoveryThresholds;
  readonly loop: DevLoopSettings;
}

/**
 * Fills in what DevOptions left open. The heartbeat interval is the default
 * one, or longer so the fleet stays within DEV_FLEET_HEARTBEATS_PER_SECOND;
 * a recovery threshold is its default, or DEV_SILENCE_INTERVALS heartbeat
 * intervals when that is longer.
 */
export function resolveDevTiming(o: Pick<DevOptions, 'machines' | 'heartbeatIntervalMs' | 'recovery'>): DevTiming {
  const fleetPaced = Math.ceil(o.machines / DEV_FLEET_HEARTBEATS_PER_SECOND) * 1000;
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? Math.max(DEV_DEFAULTS.heartbeatIntervalMs, fleetPaced);
  const atLeast = Math.ceil((DEV_SILENCE_INTERVALS * heartbeatIntervalMs) / 1000);
  const recovery = Object.freeze({
    noHeartbeatAfterStartSeconds: o.recovery?.noHeartbeatAfterStartSeconds ?? Math.max(DEV_DEFAULTS.recovery.noHeartbeatAfterStartSeconds, atLeast),
    silenceSeconds: o.recovery?.silenceSeconds ?? Math.max(DEV_DEFAULTS.recovery.silenceSeconds, atLeast),
  });
  return Object.freeze({ heartbeatIntervalMs, recovery, loop: devLoopSettings(o.machines) });
}

const HOUR = 3_600_000;

/** Inclusive bounds of every duration of DevOptions (and of the flags that set them). */
export const DEV_DURATION_BOUNDS = Object.freeze({
  heartbeatIntervalMs: Object.freeze({ minMs: 100, maxMs: HOUR }),
  recoveryThresholdMs: SHEPHERD_BOUNDS.recoveryThresholdMs,
  backoffInitialMs: SHEPHERD_BOUNDS.backoffInitialMs,
  backoffMaximumMs: SHEPHERD_BOUNDS.backoffMaximumMs,
  silentAfterMs: Object.freeze({ minMs: 0, maxMs: 24 * HOUR }),
  slowSshDelayMs: Object.freeze({ minMs: 0, maxMs: 600_000 }),
  timeoutMs: Object.freeze({ minMs: 1000, maxMs: 24 * HOUR }),
  summaryIntervalMs: Object.freeze({ minMs: 100, maxMs: 60_000 }),
} satisfies Record<string, DurationBounds>);

/** Bounds of the counts: machines as the simulator allows, any 32-bit seed. */
export const DEV_COUNT_BOUNDS = Object.freeze({
  machines: Object.freeze({ min: 1, max: MAX_SIM_MACHINES }),
  seed: Object.freeze({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
});

/** Thrown by validateDevOptions, naming the flag that sets the bad option. */
export class DevOptionsError extends Error {
  override name = 'DevOptionsError';
}

/** Checks what flags cannot: ranges and how the durations relate. */
export function validateDevOptions(o: DevOptions): void {
  if (!Number.isInteger(o.machines) || o.machines < 1 || o.machines > MAX_SIM_MACHINES) {
    throw new DevOptionsError(`--machines must be between 1 and ${MAX_SIM_MACHINES}, got ${o.machines}`);
  }
  try {
    validateFaultFractions(o.faults);
  } catch (err) {
    throw new DevOptionsError((err as Error).message, { cause: err });
  }
  if (o.metricsListenAddress !== undefined && o.metricsListenAddress !== 'off') {
    try {
      parseListenAddress(o.metricsListenAddress);
    } catch (err) {
      throw new DevOptionsError(`--metrics-listen-address: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!Number.isFinite(o.bmcUnavailableShare) || o.bmcUnavailableShare < 0 || o.bmcUnavailableShare > 0.9) {
    throw new DevOptionsError(`--fault-bmc-503 must be between 0 and 0.9 (the drivers must get through eventually), got ${o.bmcUnavailableShare}`);
  }
  if (!Number.isInteger(o.seed) || o.seed < DEV_COUNT_BOUNDS.seed.min || o.seed > DEV_COUNT_BOUNDS.seed.max) throw new DevOptionsError(`--seed must be a 32-bit whole number, got ${o.seed}`);
  const B = DEV_DURATION_BOUNDS;
  const t = resolveDevTiming(o);
  const durations: Array<[string, number | undefined, DurationBounds]> = [
    ['--heartbeat-interval', t.heartbeatIntervalMs, B.heartbeatIntervalMs],
    ['--recoverer-first-heartbeat-timeout', t.recovery.noHeartbeatAfterStartSeconds * 1000, B.recoveryThresholdMs],
    ['--recoverer-silence-timeout', t.recovery.silenceSeconds * 1000, B.recoveryThresholdMs],
    ['--backoff-initial', o.initializerBackoff.initialMs, B.backoffInitialMs],
    ['--backoff-max', o.initializerBackoff.maximumMs, B.backoffMaximumMs],
    ['--backoff-initial', o.recovererBackoff.initialMs, B.backoffInitialMs],
    ['--backoff-max', o.recovererBackoff.maximumMs, B.backoffMaximumMs],
    ['--silent-after', o.silentAfterMs, B.silentAfterMs],
    ['--slow-ssh-delay', o.slowSshDelayMs, B.slowSshDelayMs],
    ['--timeout', o.timeoutMs, B.timeoutMs],
    ['--summary-interval', o.summaryIntervalMs, B.summaryIntervalMs],
  ];
  for (const [flag, ms, bounds] of durations) {
    if (ms === undefined) continue;
    try {
      checkDuration(flag, ms, bounds);
    } catch (err) {
      throw new DevOptionsError((err as Error).message, { cause: err });
    }
  }
  // A healthy agent must beat at least twice within the silence threshold, or it would be "recovered" for being slow.
  if (t.heartbeatIntervalMs * 2 > t.recovery.silenceSeconds * 1000) {
    throw new DevOptionsError(`--recoverer-silence-timeout (${t.recovery.silenceSeconds}s) must be at least twice --heartbeat-interval (${t.heartbeatIntervalMs}ms)`);
  }
  if ((o.initializerBackoff.maximumMs ?? Infinity) < o.initializerBackoff.initialMs) throw new DevOptionsError('--backoff-max must be at least --backoff-initial');
}
