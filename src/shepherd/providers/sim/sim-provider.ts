// The `sim` provider: machines of a simulated fleet (see src/sim), which it
// lists, enrols and reboots like a real provider would. The fleet is passed
// in as an interface so the shepherd does not depend on the simulator.
import type { Session } from '../../../bmdb/index.ts';
import {
  Availability,
  ProviderMachineNotFoundError,
  type CreateMachineRequest,
  type ProviderCallOptions,
  type ProviderMachine,
  type RecovererProvider,
} from '../../provider.ts';
import { enrolMachine } from '../enrol-machine.ts';

/** What the provider needs of a simulated fleet. */
export interface SimulatedFleet {
  list(): ReadonlyArray<{ readonly id: string; readonly address: string; readonly location: string }>;
  reboot(id: string): Promise<void>;
}

export class SimProvider implements RecovererProvider {
  readonly name = 'sim';
  readonly type = 'Sim' as const;
  readonly #fleet: SimulatedFleet;

  constructor(fleet: SimulatedFleet) {
    this.#fleet = fleet;
  }

  listMachines(): Promise<readonly ProviderMachine[]> {
    // Like a static inventory: the BMDB decides which ones are already ours.
    return Promise.resolve(this.#fleet.list().map((m) => Object.freeze({ id: m.id, address: m.address, location: m.location, availability: Availability.PossiblyUsed, failed: false, rebootable: true })));
  }

  async getMachine(id: string): Promise<ProviderMachine> {
    const machine = (await this.listMachines()).find((m) => m.id === id);
    if (!machine) throw new ProviderMachineNotFoundError(this.name, id);
    return machine;
  }

  async createMachine(session: Session, request: CreateMachineRequest, opts: ProviderCallOptions = {}): Promise<ProviderMachine> {
    const machine = await this.getMachine(request.unusedMachine.id);
    await enrolMachine(session, this.type, machine, opts);
    return machine;
  }

  async rebootMachine(id: string, opts: ProviderCallOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    await this.getMachine(id);
    await this.#fleet.reboot(id);
  }
}
