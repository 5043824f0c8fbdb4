// The recoverer (docs/architecture.md#recoverer): a control loop that reboots machines
// whose agent never heartbeated or went silent, and clears the agent tags so
// the initializer starts the agent again.
import type { Logger } from 'pino';
import type { Backoff, MachineProvided, Queries, RecoveryThresholds } from '../bmdb/index.ts';
import type { ControlLoop, Task } from '../controlloop/index.ts';
import { silentLogger } from '../lib/logger.ts';
import type { RecovererProvider } from './provider.ts';

/** 1 min, growing ×1.2 up to 1 h, with a little jitter. */
export const RECOVERER_BACKOFF: Backoff = Object.freeze({ initialMs: 60_000, maximumMs: 3600_000, exponent: 1.2, jitter: 0.1 });

export interface RecovererOptions {
  readonly provider: RecovererProvider;
  /** When an agent counts as dead; the BMDB's defaults (30 min, 10 min) unless given. */
  readonly thresholds?: RecoveryThresholds;
  /** Retry policy after a failed reboot; default RECOVERER_BACKOFF. */
  readonly backoff?: Backoff;
  readonly logger?: Logger;
}

export class Recoverer implements ControlLoop {
  readonly name = 'recoverer';
  readonly process = 'ShepherdRecovery';
  readonly processor = 'shepherd-recoverer';
  readonly defaultBackoff: Backoff;
  readonly #provider: RecovererProvider;
  readonly #thresholds: RecoveryThresholds | undefined;
  readonly #log: Logger;

  constructor(options: RecovererOptions) {
    this.#provider = options.provider;
    this.#thresholds = options.thresholds;
    this.defaultBackoff = options.backoff ?? RECOVERER_BACKOFF;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'recoverer' });
  }

  getMachines(q: Queries, limit: number): Promise<MachineProvided[]> {
    return q.getRecoveryCandidates({ provider: this.#provider.type, limit, ...(this.#thresholds ? { thresholds: this.#thresholds } : {}) });
  }

  async processMachine(task: Task): Promise<void> {
    const { machine, signal } = task;
    const log = this.#log.child({ machineId: machine.machineId, providerId: machine.providerId });
    log.info('agent is silent: rebooting machine');
    await this.#provider.rebootMachine(machine.providerId, { signal });
    await task.work.finish(async (q) => {
      await q.deleteAgentStarted({ machineId: machine.machineId });
      await q.deleteAgentHeartbeat({ machineId: machine.machineId });
    }, { signal });
    log.info('machine rebooted; the agent will be started again');
  }
}
