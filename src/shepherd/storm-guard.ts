// The storm guard (docs/architecture.md#recovery-guards): before the recoverer
// reboots a machine it asks the BMDB whether the fleet as a whole looks like
// an outage of ours (many machines went silent at once, or no heartbeat
// arrives at all) and whether the fleet-wide reboot cap allows one more.
// Every instance reads the same rows, so all of them reach the same verdict;
// the decision to reboot is taken under the guard row's lock, in the claim.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Bmdb, FleetHealth, Queries, RecoveryThresholds } from '../bmdb/index.ts';
import { DEFAULT_RECOVERY_THRESHOLDS } from '../bmdb/index.ts';
import type { PerWindowLimit } from '../lib/flags.ts';
import { silentLogger } from '../lib/logger.ts';
import { sleep } from '../lib/sleep.ts';
import { stormGuardMetrics, type StormGuardMetrics } from './storm-guard-metrics.ts';

export interface StormGuardOptions {
  /** false disables all three checks (a lab); default true. */
  readonly enabled?: boolean;
  /** Share of started machines that went silent recently above which recovery pauses; default 0.1. */
  readonly threshold?: number;
  /** The silence checks engage only from this many machines; default 5. */
  readonly minMachines?: number;
  /** How often agents heartbeat; no heartbeat at all for 1.5 times this long is an outage. Default 30 s. */
  readonly heartbeatIntervalMs?: number;
  /** Fleet-wide reboots per window: a share of the started machines (at least 1) or a count. Default 5%/10m. */
  readonly maxReboots?: PerWindowLimit;
}

export const STORM_GUARD_DEFAULTS = Object.freeze({
  enabled: true,
  threshold: 0.1,
  minMachines: 5,
  heartbeatIntervalMs: 30_000,
  maxReboots: Object.freeze({ kind: 'share', share: 0.05, windowMs: 600_000 }) as PerWindowLimit,
});

/** Why recovery is paused. `settling`: a storm ended less than two heartbeat intervals ago. */
export type PauseReason = 'mass-silence' | 'no-heartbeats' | 'reboot-cap' | 'settling';

export interface Verdict {
  readonly reason: PauseReason;
  /** True for the two outage signs, which also start the settling time. */
  readonly storm: boolean;
  readonly detail: string;
}

type Resolved = Required<StormGuardOptions>;

/** Reboots allowed per window for this many started machines. */
export function rebootCap(started: number, limit: PerWindowLimit): number {
  return limit.kind === 'count' ? limit.count : Math.max(1, Math.floor(limit.share * started));
}

/** The storm guard's verdict on the fleet's health; undefined when a reboot may go ahead. */
export function judgeFleet(h: FleetHealth, o: Resolved): Verdict | undefined {
  // The machines that should be heartbeating: those that did since their agent
  // start and those overdue for a first heartbeat (not agents still starting).
  const expected = h.heartbeated + h.overdue;
  if (expected >= o.minMachines && !h.anyFreshHeartbeat) {
    return {
      reason: 'no-heartbeats',
      storm: true,
      detail: `no heartbeat in the last ${(1.5 * o.heartbeatIntervalMs) / 1000} s from any of ${expected} started machines that should have heartbeated (${h.overdue} never did)`,
    };
  }
  if (h.recentlySilent >= o.minMachines && h.recentlySilent > o.threshold * h.started) {
    return { reason: 'mass-silence', storm: true, detail: `${h.recentlySilent} of ${h.started} started machines went silent recently (more than ${o.threshold * 100} %)` };
  }
  const cap = rebootCap(h.started, o.maxReboots);
  if (h.recentReboots >= cap) return { reason: 'reboot-cap', storm: false, detail: `${h.recentReboots} reboots in the last ${o.maxReboots.windowMs / 1000} s reach the cap of ${cap}` };
  return undefined;
}

export class StormGuard {
  readonly options: Resolved;
  readonly #silence: RecoveryThresholds;
  readonly #log: Logger;
  readonly #metrics: StormGuardMetrics;
  #current: Verdict | undefined;

  constructor(o: { options?: StormGuardOptions; thresholds?: RecoveryThresholds; logger?: Logger; metricsRegistry?: Registry } = {}) {
    this.options = Object.freeze({ ...STORM_GUARD_DEFAULTS, ...o.options });
    this.#silence = o.thresholds ?? DEFAULT_RECOVERY_THRESHOLDS;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'storm-guard' });
    this.#metrics = stormGuardMetrics(o.metricsRegistry);
    this.#metrics.paused.set(0);
  }

  /** What this instance last saw; undefined when recovery may go on. */
  get pause(): Verdict | undefined {
    return this.#current;
  }

  #health(q: Queries): Promise<FleetHealth> {
    return q.getFleetHealth({
      silenceSeconds: this.#silence.silenceSeconds,
      noHeartbeatAfterStartSeconds: this.#silence.noHeartbeatAfterStartSeconds,
      silenceWindowSeconds: this.#silence.silenceSeconds,
      // Half an interval of slack: a beat that is a little late is not an outage.
      heartbeatIntervalSeconds: (1.5 * this.options.heartbeatIntervalMs) / 1000,
      rebootWindowSeconds: this.options.maxReboots.windowMs / 1000,
    });
  }

  #settling(): Verdict {
    return { reason: 'settling', storm: false, detail: `a storm ended less than ${this.#settleSeconds} s ago; waiting for heartbeats to return` };
  }

  get #settleSeconds(): number {
    return (2 * this.options.heartbeatIntervalMs) / 1000;
  }

  /**
   * Decides, inside the claiming transaction, whether this machine may be
   * rebooted now, and if so records the reboot in the ledger. The guard row's
   * lock (held to the commit) serialises the decisions of every instance, so
   * the ledger count each one sees includes the others' reboots.
   * @returns the pause that forbids it, or undefined when the reboot is recorded.
   */
  async admit(q: Queries, machineId: string): Promise<Verdict | undefined> {
    if (!this.options.enabled) {
      await q.recordReboot({ machineId });
      return undefined;
    }
    const row = await q.lockStormGuard({ settleSeconds: this.#settleSeconds });
    let verdict = judgeFleet(await this.#health(q), this.options);
    if (!verdict && row.settling) verdict = this.#settling();
    // The claim rolls back when it finds nothing to do, so the pause is only
    // noted in memory here; check() writes it to the guard row.
    this.#observe(verdict);
    if (verdict) return verdict;
    await q.recordReboot({ machineId });
    return undefined;
  }

  /** One check of the fleet, written to the guard row for every instance (and webug) to see. */
  async check(bmdb: Bmdb, opts: { signal?: AbortSignal } = {}): Promise<Verdict | undefined> {
    const verdict = await bmdb.transact('shepherd-recoverer', async (q) => {
      const row = await q.lockStormGuard({ settleSeconds: this.#settleSeconds });
      let v = judgeFleet(await this.#health(q), this.options);
      if (!v && row.settling) v = this.#settling();
      await q.setStormGuard({ reason: v?.reason ?? null, storm: v?.storm ?? false });
      return v;
    }, opts);
    this.#observe(verdict);
    return verdict;
  }

  /** Checks every half heartbeat interval (at most every 5 s) until the signal aborts. */
  async run(bmdb: Bmdb, signal: AbortSignal): Promise<void> {
    if (!this.options.enabled) return;
    const periodMs = Math.max(100, Math.min(5000, this.options.heartbeatIntervalMs / 2));
    while (!signal.aborted) {
      try {
        await this.check(bmdb, { signal });
      } catch (err) {
        if (!signal.aborted) this.#log.warn({ err }, 'storm guard check failed');
      }
      await sleep(periodMs, signal);
    }
  }

  // Logs a pause once when it begins (or changes reason) and once when it ends.
  #observe(v: Verdict | undefined): void {
    const was = this.#current;
    this.#current = v;
    if (v && was?.reason !== v.reason) {
      this.#metrics.paused.set(1);
      this.#metrics.pauses.inc({ reason: v.reason });
      this.#log.warn({ reason: v.reason, detail: v.detail }, 'recovery paused by the storm guard');
    } else if (!v && was) {
      this.#metrics.paused.set(0);
      this.#log.info({ after: was.reason }, 'recovery resumed: the storm guard sees no reason to pause');
    }
  }
}
