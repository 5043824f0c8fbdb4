// A fleet of simulated machines, served in this process: SSH endpoints and
// Redfish BMCs that a device list (see src/dev) points the `mini` provider at.
// Machines are numbered sim-0001, sim-0002, ...; their faults come from a
// seeded plan and their state from `dir`.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { silentLogger } from '../lib/logger.ts';
import { FAULT_KINDS, planFaults, type Fault, type FaultFractions, type FaultKind } from './fault-plan.ts';
import { createBmcCertificate } from './redfish-bmc-cert.ts';
import type { ResetAnswerCount } from './redfish-bmc.ts';
import { SimMachine, type SimBmcAccess, type SimTiming } from './sim-machine.ts';

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
  /** Share of BMC requests answered 503 at random; default 0. */
  readonly bmcUnavailableShare?: number;
  readonly logger?: Logger;
}

/** One machine as a device list describes it. */
export interface SimFleetMachine {
  readonly id: string;
  /** Where its SSH answers. */
  readonly address: string;
  readonly location: string;
  readonly bmc: SimBmcAccess;
}

export const MAX_SIM_MACHINES = 10_000;

export class SimFleet {
  /** PEM file of the CA that issued every simulated BMC's certificate. */
  readonly bmcCaFile: string;
  readonly #machines: ReadonlyMap<string, SimMachine>;

  private constructor(machines: readonly SimMachine[], bmcCaFile: string) {
    this.#machines = new Map(machines.map((m) => [m.id, m]));
    this.bmcCaFile = bmcCaFile;
  }

  /** Starts every machine's SSH endpoint and BMC (and resumes agents that were running). */
  static async start(o: SimFleetOptions): Promise<SimFleet> {
    if (!Number.isInteger(o.machines) || o.machines < 0 || o.machines > MAX_SIM_MACHINES) {
      throw new RangeError(`the simulated fleet must have 0 to ${MAX_SIM_MACHINES} machines, got ${o.machines}`);
    }
    const plan = planFaults(o.machines, o.faults, o.seed ?? 1);
    const log = o.logger ?? silentLogger();
    // One identity for all BMCs (they all listen on 127.0.0.1), new at every
    // start: only this run's device list has to trust it.
    const bmcCertificate = await createBmcCertificate('bmaas dev simulated BMC');
    const bmcCaFile = path.join(o.dir, 'bmc-ca.pem');
    await writeFile(bmcCaFile, bmcCertificate.caPem);
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
          bmcCertificate,
          bmcUnavailableShare: o.bmcUnavailableShare ?? 0,
          logger: log,
        }),
    );
    const fleet = new SimFleet(machines, bmcCaFile);
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
    return [...this.#machines.values()].map((m) => ({ id: m.id, address: m.address, location: m.location, bmc: m.bmc }));
  }

  faultOf(id: string): Fault | undefined {
    return this.#machines.get(id)?.fault;
  }

  faultCounts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const m of this.#machines.values()) if (m.fault !== 'none') counts[m.fault]++;
    return counts;
  }

  /** The reset requests all BMCs answered, by type and status, most frequent first. */
  bmcResetCounts(): ResetAnswerCount[] {
    const total = new Map<string, ResetAnswerCount>();
    for (const m of this.#machines.values()) {
      for (const c of m.bmcResetCounts()) {
        const key = `${c.resetType} ${c.status}`;
        total.set(key, { ...c, count: (total.get(key)?.count ?? 0) + c.count });
      }
    }
    return [...total.values()].sort((a, b) => b.count - a.count || a.resetType.localeCompare(b.resetType) || a.status - b.status);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#machines.values()].map((m) => m.stop()));
  }
}

export function simMachineId(index: number): string {
  return `sim-${String(index + 1).padStart(4, '0')}`;
}
