// Row shapes returned by the typed queries, and their mapping from SQL rows.
import type { Provider, ProviderStatus } from '../model.ts';

export interface MachineProvided {
  machineId: string;
  provider: Provider;
  providerId: string;
  providerReservationId: string | null;
  providerIpAddress: string | null;
  providerLocation: string | null;
  providerStatus: ProviderStatus | null;
  /** Whether the provider can reboot it (false: a device-list entry without a BMC); never a recovery candidate when false. */
  providerRebootable: boolean;
}

export const PROVIDED_COLUMNS = `mp.machine_id, mp.provider, mp.provider_id, mp.provider_reservation_id,
  mp.provider_ip_address, mp.provider_location, mp.provider_status, mp.provider_rebootable`;

export function toMachineProvided(r: Record<string, unknown>): MachineProvided {
  return {
    machineId: r.machine_id as string,
    provider: r.provider as Provider,
    providerId: r.provider_id as string,
    providerReservationId: (r.provider_reservation_id as string | null) ?? null,
    providerIpAddress: (r.provider_ip_address as string | null) ?? null,
    providerLocation: (r.provider_location as string | null) ?? null,
    providerStatus: (r.provider_status as ProviderStatus | null) ?? null,
    providerRebootable: r.provider_rebootable !== false,
  };
}

/** bytea arrives as Buffer from node-postgres and Uint8Array from PGlite. */
export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('expected a bytea value');
}
