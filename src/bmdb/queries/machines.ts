// Machines and their Provided tag.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Provider, ProviderStatus } from '../model.ts';
import { PROVIDED_COLUMNS, toMachineProvided, type MachineProvided } from './rows.ts';
import { hintProvided } from './work-due.ts';

export interface Machine {
  machineId: string;
  createdAt: Date;
}

/** Creates a machine with no tags. */
export async function newMachine(db: Queryable, opts?: QueryOptions): Promise<Machine> {
  const r = await db.query('INSERT INTO machines (machine_created_at) VALUES (now()) RETURNING machine_id, machine_created_at', [], opts);
  const row = r.rows[0]!;
  return { machineId: row.machine_id as string, createdAt: row.machine_created_at as Date };
}

export interface AddProvidedArgs extends UpdateProviderStatusArgs {
  machineId: string;
  /** Whether the provider can reboot it; default true (a machine that cannot is never a recovery candidate). */
  providerRebootable?: boolean;
}

/** Tags a machine as backed by a provider's machine. (provider, providerId) is unique. */
export async function addProvided(db: Queryable, a: AddProvidedArgs, opts?: QueryOptions): Promise<void> {
  await db.query(
    `INSERT INTO machine_provided (machine_id, provider, provider_id, provider_reservation_id, provider_ip_address, provider_location, provider_status, provider_rebootable)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [a.machineId, a.provider, a.providerId, a.providerReservationId ?? null, a.providerIpAddress ?? null, a.providerLocation ?? null, a.providerStatus ?? null, a.providerRebootable ?? true],
    opts,
  );
  await hintProvided(db, a, opts);
}

export interface UpdateProviderStatusArgs {
  provider: Provider;
  providerId: string;
  providerReservationId?: string | null;
  providerIpAddress?: string | null;
  providerLocation?: string | null;
  providerStatus?: ProviderStatus | null;
}

/**
 * Refreshes what the provider says about a machine. A field given as null or
 * not given keeps its stored value: an update never clears a field. Returns
 * whether a machine was found.
 */
export async function updateProviderStatus(db: Queryable, a: UpdateProviderStatusArgs, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query(
    `UPDATE machine_provided SET
       provider_reservation_id = COALESCE($3, provider_reservation_id),
       provider_ip_address = COALESCE($4, provider_ip_address),
       provider_location = COALESCE($5, provider_location),
       provider_status = COALESCE($6::provider_status, provider_status)
     WHERE provider = $1 AND provider_id = $2`,
    [a.provider, a.providerId, a.providerReservationId ?? null, a.providerIpAddress ?? null, a.providerLocation ?? null, a.providerStatus ?? null],
    opts,
  );
  return r.rowCount > 0;
}

/** Every machine provided by this provider, by machine id. */
export async function getProvidedMachines(db: Queryable, a: { provider: Provider }, opts?: QueryOptions): Promise<MachineProvided[]> {
  const r = await db.query(`SELECT ${PROVIDED_COLUMNS} FROM machine_provided mp WHERE mp.provider = $1 ORDER BY mp.machine_id`, [a.provider], opts);
  return r.rows.map(toMachineProvided);
}

/**
 * Records whether the provider can reboot the machine (it can change: a BMC
 * added to a device-list entry). Returns whether the stored value changed.
 */
export async function setProviderRebootable(db: Queryable, a: { provider: Provider; providerId: string; rebootable: boolean }, opts?: QueryOptions): Promise<boolean> {
  const r = await db.query(
    'UPDATE machine_provided SET provider_rebootable = $3 WHERE provider = $1 AND provider_id = $2 AND provider_rebootable <> $3',
    [a.provider, a.providerId, a.rebootable],
    opts,
  );
  return r.rowCount > 0;
}
