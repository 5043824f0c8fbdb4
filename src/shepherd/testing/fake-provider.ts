// A provider held in memory, for tests: machines are added by the test, and
// every call is counted.
import type { Session } from '../../bmdb/index.ts';
import {
  Availability,
  ProviderMachineNotFoundError,
  type CreateMachineRequest,
  type ProviderMachine,
  type ProviderType,
  type RebootOptions,
  type RecovererProvider,
} from '../provider.ts';

export class FakeProvider implements RecovererProvider {
  readonly name = 'fake';
  readonly type: ProviderType;
  readonly machines = new Map<string, ProviderMachine>();
  readonly created: string[] = [];
  readonly reboots: string[] = [];
  /** The `attempt` of each reboot, in the order of `reboots`. */
  readonly rebootAttempts: number[] = [];
  /** When set, createMachine throws it. */
  createError: Error | undefined;

  constructor(type: ProviderType = 'None') {
    this.type = type;
  }

  /** Adds `count` possibly used machines named `${prefix}${i}` at 10.0.0.i. */
  addMachines(count: number, prefix = 'm', extra: Partial<ProviderMachine> = {}): ProviderMachine[] {
    const added: ProviderMachine[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}${this.machines.size}`;
      const machine: ProviderMachine = { id, address: `10.0.${Math.floor(this.machines.size / 250)}.${(this.machines.size % 250) + 1}`, availability: Availability.PossiblyUsed, failed: false, ...extra };
      this.machines.set(id, machine);
      added.push(machine);
    }
    return added;
  }

  listMachines(): Promise<readonly ProviderMachine[]> {
    return Promise.resolve([...this.machines.values()]);
  }

  getMachine(id: string): Promise<ProviderMachine> {
    const machine = this.machines.get(id);
    return machine ? Promise.resolve(machine) : Promise.reject(new ProviderMachineNotFoundError(this.name, id));
  }

  async createMachine(session: Session, request: CreateMachineRequest, opts: { signal?: AbortSignal } = {}): Promise<ProviderMachine> {
    if (this.createError) throw this.createError;
    const machine = request.unusedMachine;
    await session.transact(async (q) => {
      const { machineId } = await q.newMachine();
      await q.addProvided({ machineId, provider: this.type, providerId: machine.id, providerIpAddress: machine.address, providerRebootable: machine.rebootable ?? true });
    }, opts);
    this.created.push(machine.id);
    return machine;
  }

  rebootMachine(id: string, opts: RebootOptions = {}): Promise<void> {
    if (!this.machines.has(id)) return Promise.reject(new ProviderMachineNotFoundError(this.name, id));
    this.reboots.push(id);
    this.rebootAttempts.push(opts.attempt ?? 0);
    return Promise.resolve();
  }
}
