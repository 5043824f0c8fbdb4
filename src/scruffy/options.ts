// The stats exporter's options, resolved and validated once.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_RECOVERY_THRESHOLDS, DEFAULT_STUCK_LIMITS, type RecoveryThresholds, type StuckLimits } from '../bmdb/index.ts';
import { silentLogger } from '../lib/index.ts';

/** How often the BMDB is read: the original's one minute. */
export const DEFAULT_COLLECTION_INTERVAL_MS = 60_000;
/** Hardware reports read per page (keyset pagination by machine id). */
export const DEFAULT_HARDWARE_PAGE_SIZE = 100;
/** How long a collection in flight may finish after stop() before it is aborted. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
/**
 * Components whose live-session gauge exists (at 0) even before any of their
 * sessions was seen, so "no live session" alerts fire for a component that
 * never came up. The names the shepherd's loops and the callback server use.
 */
export const DEFAULT_SESSION_COMPONENTS: readonly string[] = Object.freeze(['bmsrv', 'shepherd-provisioner', 'shepherd-initializer', 'shepherd-recoverer']);

/** The bounds the command's flags enforce (and show in --help). */
export const SCRUFFY_BOUNDS = Object.freeze({
  collectionIntervalMs: Object.freeze({ minMs: 1000, maxMs: 86_400_000 }),
  shutdownGraceMs: Object.freeze({ minMs: 0, maxMs: 3_600_000 }),
  hardwarePageSize: Object.freeze({ min: 1, max: 10_000 }),
});

export interface ScruffyOptions {
  /** Where the gauges are registered (required: the caller serves it). */
  readonly registry: Registry;
  readonly collectionIntervalMs?: number | undefined;
  readonly hardwarePageSize?: number | undefined;
  readonly shutdownGraceMs?: number | undefined;
  /** Must be the shepherd's, for heartbeating and pending recovery to agree with it. */
  readonly recoveryThresholds?: RecoveryThresholds | undefined;
  readonly sessionComponents?: readonly string[] | undefined;
  /** How long a machine may stay in each derived state before it counts as stuck; default the BMDB's. */
  readonly stuckLimits?: StuckLimits | undefined;
  readonly logger?: Logger | undefined;
}

export interface ResolvedScruffyOptions {
  readonly registry: Registry;
  readonly collectionIntervalMs: number;
  readonly hardwarePageSize: number;
  readonly shutdownGraceMs: number;
  readonly recoveryThresholds: RecoveryThresholds;
  readonly sessionComponents: readonly string[];
  readonly stuckLimits: StuckLimits;
  readonly logger: Logger;
}

/** Thrown by resolveScruffyOptions for a value out of range; the message names the option. */
export class ScruffyOptionsError extends Error {
  override readonly name = 'ScruffyOptionsError';
}

function atLeast(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) throw new ScruffyOptionsError(`scruffy option ${name} must be a number of at least ${min}, got ${value}`);
  return value;
}

export function resolveScruffyOptions(opts: ScruffyOptions): ResolvedScruffyOptions {
  const pageSize = atLeast('hardwarePageSize', opts.hardwarePageSize ?? DEFAULT_HARDWARE_PAGE_SIZE, 1);
  if (!Number.isInteger(pageSize)) throw new ScruffyOptionsError(`scruffy option hardwarePageSize must be a whole number, got ${pageSize}`);
  const thresholds = opts.recoveryThresholds ?? DEFAULT_RECOVERY_THRESHOLDS;
  atLeast('recoveryThresholds.silenceSeconds', thresholds.silenceSeconds, 1);
  atLeast('recoveryThresholds.noHeartbeatAfterStartSeconds', thresholds.noHeartbeatAfterStartSeconds, 1);
  return Object.freeze({
    registry: opts.registry,
    collectionIntervalMs: atLeast('collectionIntervalMs', opts.collectionIntervalMs ?? DEFAULT_COLLECTION_INTERVAL_MS, 100),
    hardwarePageSize: pageSize,
    shutdownGraceMs: atLeast('shutdownGraceMs', opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, 0),
    recoveryThresholds: Object.freeze({ ...thresholds }),
    sessionComponents: Object.freeze([...(opts.sessionComponents ?? DEFAULT_SESSION_COMPONENTS)]),
    stuckLimits: opts.stuckLimits ?? DEFAULT_STUCK_LIMITS,
    logger: opts.logger ?? silentLogger(),
  });
}
