// The `mini` provider: machines from a static device list. It cannot create
// anything; "creating" a machine only enrols it into the BMDB. Entries with a
// BMC expose its spec (bmcFor) for the BMC drivers; none of it is stored in
// the BMDB (the Provided tag has no field for it, and passwords never go there).
import type { Logger } from 'pino';
import type { Session } from '../../../bmdb/index.ts';
import { silentLogger } from '../../../lib/logger.ts';
import {
  Availability,
  ProviderMachineNotFoundError,
  type CreateMachineRequest,
  type Provider,
  type ProviderMachine,
  type ProviderType,
} from '../../provider.ts';
import { enrolMachine } from '../enrol-machine.ts';
import type { BmcSpec } from './bmc-spec.ts';
import type { Device } from './device-list.ts';
import { loadDeviceList } from './load-device-list.ts';

export interface MiniProviderOptions {
  /** file://, http(s):// URL or path of the device list. */
  readonly deviceListUrl: string;
  /** The provider enum value to record; default `None`. */
  readonly providerType?: ProviderType;
  readonly fetchTimeoutMs?: number;
  readonly logger?: Logger;
}

function toMachine(device: Device): ProviderMachine {
  // Every entry might be ours: the provisioner decides by looking at the BMDB.
  return Object.freeze({
    id: device.ID,
    address: device.Addr,
    availability: Availability.PossiblyUsed,
    failed: false,
    ...(device.Location === undefined ? {} : { location: device.Location }),
  });
}

export class MiniProvider implements Provider {
  readonly name = 'mini';
  readonly type: ProviderType;
  readonly deviceListUrl: string;
  readonly #fetchTimeoutMs: number | undefined;
  readonly #log: Logger;
  #machines: ReadonlyMap<string, ProviderMachine>;
  #bmcs: ReadonlyMap<string, BmcSpec>;

  private constructor(options: MiniProviderOptions, devices: readonly Device[]) {
    this.type = options.providerType ?? 'None';
    this.deviceListUrl = options.deviceListUrl;
    this.#fetchTimeoutMs = options.fetchTimeoutMs;
    this.#log = (options.logger ?? silentLogger()).child({ provider: 'mini' });
    this.#machines = MiniProvider.#index(devices);
    this.#bmcs = MiniProvider.#bmcIndex(devices);
  }

  static #index(devices: readonly Device[]): ReadonlyMap<string, ProviderMachine> {
    return new Map(devices.map((d) => [d.ID, toMachine(d)]));
  }

  static #bmcIndex(devices: readonly Device[]): ReadonlyMap<string, BmcSpec> {
    return new Map(devices.flatMap((d) => (d.BMC === undefined ? [] : [[d.ID, d.BMC] as const])));
  }

  /**
   * Reads the device list once.
   * @throws DeviceListError when it cannot be read or is invalid.
   */
  static async open(options: MiniProviderOptions, opts: { signal?: AbortSignal } = {}): Promise<MiniProvider> {
    const devices = await loadDeviceList(options.deviceListUrl, { ...opts, ...(options.fetchTimeoutMs ? { timeoutMs: options.fetchTimeoutMs } : {}) });
    const provider = new MiniProvider(options, devices);
    provider.#log.info({ url: options.deviceListUrl, devices: devices.length, bmcs: provider.#bmcs.size }, 'loaded device list');
    return provider;
  }

  /** Builds a provider from an already validated list (tests). */
  static fromDevices(options: MiniProviderOptions, devices: readonly Device[]): MiniProvider {
    return new MiniProvider(options, devices);
  }

  /**
   * Reads the list again (on SIGHUP). A list that cannot be read or is invalid
   * is logged and the old one kept. Returns whether the new list was taken.
   */
  async reload(opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      const devices = await loadDeviceList(this.deviceListUrl, { ...opts, ...(this.#fetchTimeoutMs ? { timeoutMs: this.#fetchTimeoutMs } : {}) });
      this.#machines = MiniProvider.#index(devices);
      this.#bmcs = MiniProvider.#bmcIndex(devices);
      this.#log.info({ url: this.deviceListUrl, devices: devices.length, bmcs: this.#bmcs.size }, 'reloaded device list');
      return true;
    } catch (err) {
      this.#log.error({ err, url: this.deviceListUrl }, 'could not reload device list; keeping the previous one');
      return false;
    }
  }

  listMachines(): Promise<readonly ProviderMachine[]> {
    return Promise.resolve([...this.#machines.values()]);
  }

  /**
   * The BMC of the entry with this ID as the device list (of the last
   * successful load) gives it, or undefined when the entry has none. Its
   * password is read by resolveBmcSpec when a driver needs it.
   * @throws ProviderMachineNotFoundError when the list has no such entry.
   */
  bmcFor(id: string): BmcSpec | undefined {
    if (!this.#machines.has(id)) throw new ProviderMachineNotFoundError(this.name, id);
    return this.#bmcs.get(id);
  }

  getMachine(id: string): Promise<ProviderMachine> {
    const machine = this.#machines.get(id);
    if (machine === undefined) return Promise.reject(new ProviderMachineNotFoundError(this.name, id));
    return Promise.resolve(machine);
  }

  async createMachine(session: Session, request: CreateMachineRequest, opts: { signal?: AbortSignal } = {}): Promise<ProviderMachine> {
    const machine = request.unusedMachine;
    if (!this.#machines.has(machine.id)) throw new ProviderMachineNotFoundError(this.name, machine.id);
    await enrolMachine(session, this.type, machine, opts);
    return machine;
  }
}
