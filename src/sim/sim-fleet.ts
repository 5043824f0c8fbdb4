// A fleet of simulated machines, served in this process: what the `sim`
// provider lists and reboots. Machines are numbered sim-0001, sim-0002, ...;
// their faults come from a seeded plan and their state from `dir`.
import path from 'node:path';
import type { Logger } from 'pino';
import { silentLogger } from '../lib/logger.ts';
import { FAULT_KINDS, planFaults, type Fault, type FaultFractions, type FaultKind } from './fault-plan.ts';
import { SimMachine, type SimTiming } from './sim-machine.ts';

export interface SimFleetOptions {
  /** Where machines keep their state, one subdirectory each. */
  readonly dir: string;
  readonly machines: number;
  readonly faults: FaultFractions;
  /** Chooses which machines get which fault; default 1. */
  readonly seed?: number;
  /** OpenSSH public key line the shepherd logs in with. */
  readonly authorizedKey: string;
  /** host:port of the callback server. */
  readonly agentEndpoint: string;
  readonly timing: SimTiming;
  readonly logger?: Logger;
}

/** What the `sim` provider sees of one machine. */
export interface SimFleetMachine {
  readonly id: string;
  readonly address: string;
  readonly location: string;
}

export class UnknownSimMachineError extends Error {
  override name = 'UnknownSimMachineError';
}

export const MAX_SIM_MACHINES = 10_000;

export class SimFleet {
  readonly #machines: ReadonlyMap<string, SimMachine>;

  private constructor(machines: readonly SimMachine[]) {
    this.#machines = new Map(machines.map((m) => [m.id, m]));
  }

  /** Starts every machine's SSH endpoint (and resumes agents that were running). */
  static async start(o: SimFleetOptions): Promise<SimFleet> {
    if (!Number.isInteger(o.machines) || o.machines < 0 || o.machines > MAX_SIM_MACHINES) {
      throw new RangeError(`the simulated fleet must have 0 to ${MAX_SIM_MACHINES} machines, got ${o.machines}`);
    }
    const plan = planFaults(o.machines, o.faults, o.seed ?? 1);
    const log = o.logger ?? silentLogger();
    const machines = plan.map(
      (fault, index) =>
        new SimMachine({
          index,
          id: simMachineId(index),
          location: `sim-rack-${Math.floor(index / 16) + 1}`,
          dir: path.join(o.dir, simMachineId(index)),
          fault,
          authorizedKey: o.authorizedKey,
          agentEndpoint: o.agentEndpoint,
          timing: o.timing,
          logger: log,
        }),
    );
    const fleet = new SimFleet(machines);
    const started = await Promise.allSettled(machines.map((m) => m.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await fleet.stop();
      throw failed.reason;
    }
    log.info({ machines: machines.length, faults: fleet.faultCounts() }, 'simulated fleet started');
    return fleet;
  }

  list(): SimFleetMachine[] {
    return [...this.#machines.values()].map((m) => ({ id: m.id, address: m.address, location: m.location }));
  }

  faultOf(id: string): Fault | undefined {
    return this.#machines.get(id)?.fault;
  }

  faultCounts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const m of this.#machines.values()) if (m.fault !== 'none') counts[m.fault]++;
    return counts;
  }

  /** @throws UnknownSimMachineError */
  async reboot(id: string): Promise<void> {
    const m = this.#machines.get(id);
    if (!m) throw new UnknownSimMachineError(`no simulated machine ${JSON.stringify(id)}`);
    await m.reboot('provider reboot');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#machines.values()].map((m) => m.stop()));
  }
}

export function simMachineId(index: number): string {
  return `sim-${String(index + 1).padStart(4, '0')}`;
}
