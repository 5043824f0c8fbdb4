// The provider contract (docs/architecture.md#provider-contract): how the shepherd lists, finds,
// creates and (optionally) reboots machines at whoever provides them.
import type { Provider as ProviderType, Session } from '../bmdb/index.ts';

export type { ProviderType };

/** Whether a provider machine is in use by us; what the provisioner decides on. */
export const Availability = Object.freeze({
  /** Not set: a provider bug. The provisioner skips such machines. */
  Undefined: 'Undefined',
  /** Maybe ours: used when the provider machine is in the BMDB, unused otherwise. */
  PossiblyUsed: 'PossiblyUsed',
  /** Free capacity: the provisioner may create a machine from it. */
  KnownUnused: 'KnownUnused',
  /** Ours: it must be in the BMDB, else the fleet is out of sync. */
  KnownUsed: 'KnownUsed',
} as const);
export type Availability = (typeof Availability)[keyof typeof Availability];

/** The id of capacity that has no identity yet (e.g. an unassigned reservation). */
export const INVALID_PROVIDER_ID = '';

/** A machine as its provider sees it. */
export interface ProviderMachine {
  /** Unique and stable at this provider; INVALID_PROVIDER_ID for capacity without identity. */
  readonly id: string;
  /** Where SSH reaches it: "host", "host:port" or "[v6]:port". */
  readonly address: string;
  readonly availability: Availability;
  /** The provider gave up on it; the provisioner ignores it. */
  readonly failed: boolean;
  /** Optional facts recorded in the Provided tag when the machine is created. */
  readonly location?: string;
  /** Whether the provider can reboot it (recorded in the Provided tag; false: never a recovery candidate). Default true. */
  readonly rebootable?: boolean;
}

export interface CreateMachineRequest {
  /** A machine listed by this provider as unused (KnownUnused, or PossiblyUsed and not in the BMDB). */
  readonly unusedMachine: ProviderMachine;
}

export interface ProviderCallOptions {
  readonly signal?: AbortSignal;
}

export interface Provider {
  /** The provider enum value stored in the Provided tag. */
  readonly type: ProviderType;
  /** A short name for logs, e.g. `mini`. */
  readonly name: string;
  /** Every machine it manages plus free capacity; machines still being created are not listed. */
  listMachines(options?: ProviderCallOptions): Promise<readonly ProviderMachine[]>;
  /** @throws ProviderMachineNotFoundError when the provider has no machine with this id. */
  getMachine(id: string, options?: ProviderCallOptions): Promise<ProviderMachine>;
  /**
   * Creates the machine at the provider (if that means anything for it) and
   * inserts the machine with its Provided tag in one BMDB transaction.
   */
  createMachine(session: Session, request: CreateMachineRequest, options?: ProviderCallOptions): Promise<ProviderMachine>;
}

export interface RebootOptions extends ProviderCallOptions {
  /**
   * How many recoveries of this machine came before this one without a
   * heartbeat in between (0 for the first). Providers may escalate with it
   * (the mini provider: graceful restart, forced restart, power cycle).
   * Default 0.
   */
  readonly attempt?: number;
}

/**
 * A provider that can also reboot machines, which the recoverer needs.
 *
 * `rebootMachine` resolves once the restart was seen to take effect (for a
 * BMC: the power state showed it) or, where the provider cannot observe
 * that, once the provider accepted it; it rejects otherwise, having done
 * nothing when the machine's state could not be read. An unknown id is a
 * ProviderMachineNotFoundError. It must be safe to repeat: the recoverer
 * calls it again after a failure or a crash of the shepherd in between.
 *
 * `canReboot(id)`, when present, says whether this machine can be rebooted at
 * all (a device-list entry without a BMC cannot); the recoverer never claims
 * machines for which it answers false. Absent means every machine can.
 */
export interface RecovererProvider extends Provider {
  rebootMachine(id: string, options?: RebootOptions): Promise<void>;
  canReboot?(id: string): boolean;
}

/** Whether the shepherd should run the recoverer for this provider. */
export function canRecover(provider: Provider): provider is RecovererProvider {
  return typeof (provider as Partial<RecovererProvider>).rebootMachine === 'function';
}

/** Thrown by getMachine (and operations on one machine) when the provider does not know the id. */
export class ProviderMachineNotFoundError extends Error {
  override name = 'ProviderMachineNotFoundError';
  readonly providerId: string;
  constructor(provider: string, providerId: string, options?: ErrorOptions) {
    super(`provider ${provider} has no machine ${JSON.stringify(providerId)}`, options);
    this.providerId = providerId;
  }
}

/** Thrown by an optional operation a provider cannot do. */
export class ProviderOperationNotSupportedError extends Error {
  override name = 'ProviderOperationNotSupportedError';
}
