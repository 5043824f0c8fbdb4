// Options of `bmaas dev`: the whole system in one process on a simulated
// fleet. Every duration that decides how fast the fleet moves is here, set
// short so a run converges in about a minute; the components' own defaults
// (docs/architecture.md#recoverer: 30 min to a first heartbeat, 10 min of silence, minutes of
// backoff) are untouched and stay what `bmaas shepherd` and friends use.
import type { Backoff, RecoveryThresholds } from '../bmdb/index.ts';
import type { RateLimit } from '../lib/rate.ts';
import { MAX_SIM_MACHINES, validateFaultFractions, type FaultFractions } from '../sim/index.ts';

export interface DevOptions {
  /** Everything `bmaas dev` keeps: database, certificates, SSH key, simulated machines, log. Default `.bmaas`. */
  readonly dataDir: string;
  /** A BMDB URL instead of the embedded database in `<dataDir>/bmdb`. */
  readonly bmdbUrl?: string;
  /** Simulated machines; default 50. */
  readonly machines: number;
  readonly faults: FaultFractions;
  /** Picks which machines get which fault; default 1. */
  readonly seed: number;
  /** Callback server; default 127.0.0.1:0 (any free port: agents are told where it is). */
  readonly serverListenAddress: string;
  /** Web UI; default 127.0.0.1:8081, falling back to a free port when taken. `off` disables it. */
  readonly webugListenAddress: string;
  readonly heartbeatIntervalMs: number;
  readonly recovery: RecoveryThresholds;
  readonly initializerBackoff: Backoff;
  readonly recovererBackoff: Backoff;
  /** How long a `silent` machine heartbeats before it hangs. */
  readonly silentAfterMs: number;
  readonly slowSshDelayMs: number;
  readonly exitWhenConverged: boolean;
  /** With exitWhenConverged: give up (exit 1) after this long. Default 5 min. */
  readonly timeoutMs: number;
  /** How often the summary is refreshed; default 1 s on a terminal, 5 s otherwise. */
  readonly summaryIntervalMs?: number;
  readonly logLevel: string;
}

/** The fault mix `npm start` shows: a few of each, most machines healthy. */
export const DEV_DEFAULT_FAULTS: FaultFractions = Object.freeze({ takeover: 0.06, silent: 0.1, unreachable: 0.04, slowSsh: 0.1 });

export const DEV_DEFAULTS = Object.freeze({
  dataDir: '.bmaas',
  machines: 50,
  seed: 1,
  serverListenAddress: '127.0.0.1:0',
  webugListenAddress: '127.0.0.1:8081',
  heartbeatIntervalMs: 2_000,
  recovery: Object.freeze({ noHeartbeatAfterStartSeconds: 20, silenceSeconds: 10 }),
  initializerBackoff: Object.freeze({ initialMs: 5_000, maximumMs: 30_000, exponent: 1.5, jitter: 0.1 }),
  recovererBackoff: Object.freeze({ initialMs: 5_000, maximumMs: 30_000, exponent: 1.5, jitter: 0.1 }),
  silentAfterMs: 8_000,
  slowSshDelayMs: 3_000,
  timeoutMs: 5 * 60_000,
  logLevel: 'info',
});

/** Loop settings that keep up with a small fleet on a fast clock. */
export const DEV_LOOP_SETTINGS = Object.freeze({
  provisionerReconcileRate: Object.freeze({ intervalMs: 1_000, burst: 1 }) as RateLimit,
  provisionerCreationRate: Object.freeze({ intervalMs: 20, burst: 20 }) as RateLimit,
  provisionerChunkSize: 25,
  dbQueryRate: Object.freeze({ intervalMs: 50, burst: 8 }) as RateLimit,
  initializerParallelism: 8,
  recovererParallelism: 4,
  sshConnectTimeoutMs: 2_000,
  sshExecTimeoutMs: 30_000,
  shutdownGraceMs: 2_000,
});

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
  if (o.heartbeatIntervalMs < 100) throw new DevOptionsError('--heartbeat-interval must be at least 100ms');
  if (o.recovery.silenceSeconds < 1 || o.recovery.noHeartbeatAfterStartSeconds < 1) throw new DevOptionsError('recovery thresholds must be at least 1s');
  // A healthy agent must beat at least twice within the silence threshold, or it would be "recovered" for being slow.
  if (o.heartbeatIntervalMs * 2 > o.recovery.silenceSeconds * 1000) {
    throw new DevOptionsError(`--recoverer-silence-timeout (${o.recovery.silenceSeconds}s) must be at least twice --heartbeat-interval (${o.heartbeatIntervalMs}ms)`);
  }
  if (o.timeoutMs <= 0) throw new DevOptionsError('--timeout must be positive');
}
