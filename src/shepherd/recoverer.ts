// The recoverer (docs/architecture.md#recoverer): a control loop that reboots machines
// whose agent never heartbeated or went silent, and clears the agent tags so
// the initializer starts the agent again. Each reboot is first admitted by the
// storm guard, and a machine rebooted `maxAttempts` times without a heartbeat
// in between is quarantined instead (docs/architecture.md#recovery-guards).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SHEPHERD_ACTOR, type Backoff, type MachineProvided, type Queries, type RecoveryThresholds } from '../bmdb/index.ts';
import type { ControlLoop, Task } from '../controlloop/index.ts';
import { silentLogger } from '../lib/logger.ts';
import type { RecovererProvider } from './provider.ts';
import { StormGuard } from './storm-guard.ts';
import { shepherdMetrics, stepLabel, type RecoveryOutcome, type ShepherdMetrics } from './shepherd-metrics.ts';

/** 1 min, growing ×1.2 up to 1 h, with a little jitter. */
export const RECOVERER_BACKOFF: Backoff = Object.freeze({ initialMs: 60_000, maximumMs: 3600_000, exponent: 1.2, jitter: 0.1 });

/** Reboots without a heartbeat in between before the machine is quarantined. */
export const RECOVERER_MAX_ATTEMPTS = 3;

export interface RecovererOptions {
  readonly provider: RecovererProvider;
  /** When an agent counts as dead; the BMDB's defaults (30 min, 10 min) unless given. */
  readonly thresholds?: RecoveryThresholds;
  /** Retry policy after a failed reboot; default RECOVERER_BACKOFF. */
  readonly backoff?: Backoff;
  /** Default RECOVERER_MAX_ATTEMPTS. */
  readonly maxAttempts?: number;
  /** Admits each reboot; one with the default options unless given (the shepherd shares its own). */
  readonly stormGuard?: StormGuard;
  /** Where the recovery metrics go; none unless given. */
  readonly metricsRegistry?: Registry;
  readonly logger?: Logger;
}

/** A recovery candidate with what the claim decided for it. */
export interface RecoveryCandidate extends MachineProvided {
  readonly recovery: { readonly action: 'reboot'; readonly attempt: number } | { readonly action: 'quarantine'; readonly reason: string };
}

export class Recoverer implements ControlLoop {
  readonly name = 'recoverer';
  readonly process = 'ShepherdRecovery';
  readonly processor = 'shepherd-recoverer';
  // getMachines writes the storm guard's ledger and the attempt counters: a
  // lost claim must roll them back, or it would count a reboot never done.
  readonly getMachinesWrites = true;
  readonly defaultBackoff: Backoff;
  readonly stormGuard: StormGuard;
  readonly #provider: RecovererProvider;
  readonly #thresholds: RecoveryThresholds | undefined;
  readonly #maxAttempts: number;
  readonly #log: Logger;
  readonly #metrics: ShepherdMetrics | undefined;

  constructor(options: RecovererOptions) {
    this.#provider = options.provider;
    this.#thresholds = options.thresholds;
    this.defaultBackoff = options.backoff ?? RECOVERER_BACKOFF;
    this.#maxAttempts = options.maxAttempts ?? RECOVERER_MAX_ATTEMPTS;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'recoverer' });
    this.#metrics = options.metricsRegistry ? shepherdMetrics(options.metricsRegistry) : undefined;
    this.stormGuard = options.stormGuard ?? new StormGuard({ ...(options.thresholds ? { thresholds: options.thresholds } : {}), logger: this.#log });
  }

  /**
   * Runs in the claiming transaction: a candidate at its attempt limit is
   * claimed to be quarantined; any other is claimed only when the storm guard
   * admits its reboot, which is then counted (ledger and attempts) in the
   * same transaction. A pause is "nothing to do", so nothing is claimed.
   */
  async getMachines(q: Queries, limit: number): Promise<RecoveryCandidate[]> {
    const candidates = await q.getRecoveryCandidates({ provider: this.#provider.type, limit, ...(this.#thresholds ? { thresholds: this.#thresholds } : {}) });
    const out: RecoveryCandidate[] = [];
    for (const c of candidates) {
      // At READ COMMITTED the candidate query's snapshot can predate another
      // session's claim of this machine (its row lock was free again by the
      // time the scan got there). That claim has committed by now, so a fresh
      // read sees it, and the machine is skipped here rather than admitted,
      // counted and then refused. The guarantee is the claim's: a refused
      // claim rolls back the writes below (getMachinesWrites), this check only
      // saves the wasted round trips and lets the loop take the next candidate.
      if (await q.hasActiveWork({ machineId: c.machineId, process: this.process })) continue;
      const before = await q.getAttempts({ machineId: c.machineId, process: this.process });
      if (before && before.attempts >= this.#maxAttempts) {
        const reason = `${before.attempts} reboots without a heartbeat in between; last: ${before.lastCauses}`;
        out.push({ ...c, recovery: { action: 'quarantine', reason } });
        continue;
      }
      if (await this.stormGuard.admit(q, c.machineId)) break;
      const a = await q.recordAttempt({ machineId: c.machineId, process: this.process, cause: `silent agent, rebooted at ${new Date().toISOString()}` });
      out.push({ ...c, recovery: { action: 'reboot', attempt: a.attempts } });
    }
    return out;
  }

  async processMachine(task: Task): Promise<void> {
    const { machine, signal } = task;
    const log = this.#log.child({ machineId: machine.machineId, providerId: machine.providerId });
    const plan = (machine as Partial<RecoveryCandidate>).recovery ?? { action: 'reboot', attempt: 0 };
    if (plan.action === 'quarantine') {
      await task.work.finish(async (q) => {
        await q.quarantineMachine({ machineId: machine.machineId, reason: plan.reason, by: SHEPHERD_ACTOR });
      }, { signal });
      log.warn({ reason: plan.reason }, 'machine quarantined: it is left alone until an operator releases it');
      this.#metrics?.recoveries.inc({ outcome: 'quarantined', step: 'none' });
      return;
    }
    log.info({ attempt: plan.attempt }, 'agent is silent: rebooting machine');
    // The escalation step: the first reboot since the last heartbeat is step 0.
    const step = Math.max(0, plan.attempt - 1);
    let outcome: RecoveryOutcome = 'failed';
    try {
      await this.#provider.rebootMachine(machine.providerId, { signal, attempt: step });
      await task.work.finish(async (q) => {
        await q.deleteAgentStarted({ machineId: machine.machineId });
        await q.deleteAgentHeartbeat({ machineId: machine.machineId });
      }, { signal });
      outcome = 'rebooted';
    } catch (err) {
      if (signal.aborted) outcome = 'aborted';
      throw err;
    } finally {
      this.#metrics?.recoveries.inc({ outcome, step: stepLabel(step) });
    }
    log.info('machine rebooted; the agent will be started again');
  }
}
