// The `mini` provider: machines from a static device list. It cannot create
// anything; "creating" a machine only enrols it into the BMDB. Entries with a
// BMC expose its spec (bmcFor) for the BMC drivers; none of it is stored in
// the BMDB (the Provided tag has no field for it, and passwords never go there).
// Entries with a BMC can be rebooted (the escalation ladder of bmc-reboot.ts)
// and report their power state to the updater.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ProviderStatus, Session } from '../../../bmdb/index.ts';
import { powerMetrics, timePowerAction, type BmcTimeouts, type CheckedPowerOptions, type PowerMetrics, type PowerState } from '../../bmc/index.ts';
import { silentLogger } from '../../../lib/logger.ts';
import {
  Availability,
  ProviderMachineNotFoundError,
  ProviderOperationNotSupportedError,
  type CreateMachineRequest,
  type RebootOptions,
  type RecovererProvider,
  type ProviderMachine,
  type ProviderType,
} from '../../provider.ts';
import { enrolMachine } from '../enrol-machine.ts';
import { BmcDrivers } from './bmc-drivers.ts';
import { rebootStep, rebootThroughBmc } from './bmc-reboot.ts';
import type { BmcSpec } from './bmc-spec.ts';
import type { Device } from './device-list.ts';
import { loadDeviceList } from './load-device-list.ts';

export interface MiniProviderOptions {
  /** file://, http(s):// URL or path of the device list. */
  readonly deviceListUrl: string;
  /** The provider enum value to record; default `None`. */
  readonly providerType?: ProviderType;
  readonly fetchTimeoutMs?: number;
  /** Timeouts and retries of every BMC request. */
  readonly bmcTimeouts?: BmcTimeouts;
  /** Polling and time bound of checked power actions (defaults in bmc/checked-power.ts). */
  readonly checkedPower?: Omit<CheckedPowerOptions, 'signal'>;
  /** Where the BMC power action metrics go; none unless given. */
  readonly metricsRegistry?: Registry;
  readonly logger?: Logger;
}

/** The provider status a BMC's power state stands for. */
export function powerStateToStatus(state: PowerState): ProviderStatus {
  if (state === 'On') return 'Running';
  if (state === 'Off') return 'Stopped';
  return 'Unknown'; // PoweringOn/Off are passing; Unknown is what it says
}

function toMachine(device: Device): ProviderMachine {
  // Every entry might be ours: the provisioner decides by looking at the BMDB.
  return Object.freeze({
    id: device.ID,
    address: device.Addr,
    availability: Availability.PossiblyUsed,
    failed: false,
    rebootable: device.BMC !== undefined,
    ...(device.Location === undefined ? {} : { location: device.Location }),
  });
}

export class MiniProvider implements RecovererProvider {
  readonly name = 'mini';
  readonly type: ProviderType;
  readonly deviceListUrl: string;
  readonly #fetchTimeoutMs: number | undefined;
  readonly #log: Logger;
  #machines: ReadonlyMap<string, ProviderMachine>;
  #bmcs: ReadonlyMap<string, BmcSpec>;
  readonly #drivers: BmcDrivers;
  readonly #checkedPower: Omit<CheckedPowerOptions, 'signal'>;
  readonly #power: PowerMetrics | undefined;

  private constructor(options: MiniProviderOptions, devices: readonly Device[]) {
    this.type = options.providerType ?? 'None';
    this.deviceListUrl = options.deviceListUrl;
    this.#fetchTimeoutMs = options.fetchTimeoutMs;
    this.#log = (options.logger ?? silentLogger()).child({ provider: 'mini' });
    this.#machines = MiniProvider.#index(devices);
    this.#bmcs = MiniProvider.#bmcIndex(devices);
    this.#drivers = new BmcDrivers(this.#log, options.bmcTimeouts);
    this.#checkedPower = options.checkedPower ?? {};
    this.#power = options.metricsRegistry ? powerMetrics(options.metricsRegistry) : undefined;
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
      await this.#drivers.retain(this.#bmcs.values());
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

  /** Whether the entry has a BMC: only those are rebooted (and recovered). */
  canReboot(id: string): boolean {
    return this.#bmcs.has(id);
  }

  /**
   * Reboots through the entry's BMC, harder with each attempt (0: graceful
   * restart, 1: forced restart, 2+: power cycle), and resolves once the BMC
   * showed the effect.
   * @throws ProviderMachineNotFoundError for an unknown ID.
   * @throws ProviderOperationNotSupportedError for an entry without a BMC.
   * @throws BmcError (PowerStateUnreadableError: nothing was done) or BmcPasswordError.
   */
  async rebootMachine(id: string, opts: RebootOptions = {}): Promise<void> {
    const spec = this.#requireBmc(id);
    const attempt = opts.attempt ?? 0;
    const log = this.#log.child({ providerId: id, bmc: spec.endpoint, attempt, step: rebootStep(attempt) });
    log.info('rebooting through the BMC');
    const reboot = () => this.#drivers.use(spec, (d) => rebootThroughBmc(d, attempt, { ...this.#checkedPower, ...(opts.signal ? { signal: opts.signal } : {}) }), opts);
    const result = await timePowerAction(this.#power, { driver: spec.driver, action: rebootStep(attempt) }, reboot, opts.signal);
    log.info({ issued: result.issued, observed: result.observed, durationMs: result.durationMs }, 'BMC showed the reboot');
  }

  /**
   * The provider status from the entry's BMC (its power state), or undefined
   * for an entry without one (nothing to learn).
   * @throws ProviderMachineNotFoundError for an unknown ID; BmcError when the BMC cannot be read.
   */
  async providerStatus(id: string, opts: { signal?: AbortSignal } = {}): Promise<ProviderStatus | undefined> {
    if (!this.#machines.has(id)) throw new ProviderMachineNotFoundError(this.name, id);
    const spec = this.#bmcs.get(id);
    if (spec === undefined) return undefined;
    const reading = await this.#drivers.use(spec, (d) => d.powerState(opts), opts);
    return powerStateToStatus(reading.state);
  }

  /** Releases every BMC driver (and its sessions). Idempotent. */
  close(): Promise<void> {
    return this.#drivers.close();
  }

  #requireBmc(id: string): BmcSpec {
    const spec = this.bmcFor(id);
    if (spec === undefined) throw new ProviderOperationNotSupportedError(`device-list entry ${JSON.stringify(id)} has no BMC, so it cannot be rebooted`);
    return spec;
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
