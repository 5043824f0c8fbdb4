// The simulated fleet as the device list a real fleet would have: one entry
// per machine with its SSH address and a Redfish `BMC` object (the machine's
// own user, a PasswordFile of 0600 in the data directory, and the simulated
// BMCs' CA as `TLS.CACertificate`). `bmaas dev` runs the `mini` provider on
// this file, so recovery goes through the same device-list and BMC code as
// on real machines. The file holds no password, only where each one is.
import { rename, writeFile } from 'node:fs/promises';
import type { SimFleetMachine } from '../sim/index.ts';

/** The one system every simulated BMC exposes. */
const SIM_SYSTEM = '/redfish/v1/Systems/1';

export interface SimDeviceListSource {
  list(): readonly SimFleetMachine[];
  readonly bmcCaFile: string;
}

/** The device-list entries (the JSON `bmaas shepherd --provider mini` reads). */
export function simDeviceList(fleet: SimDeviceListSource): object[] {
  return fleet.list().map((m) => ({
    ID: m.id,
    Addr: m.address,
    Location: m.location,
    BMC: {
      Driver: 'redfish',
      Endpoint: m.bmc.endpoint,
      System: SIM_SYSTEM,
      Username: m.bmc.username,
      PasswordFile: m.bmc.passwordFile,
      TLS: { CACertificate: fleet.bmcCaFile },
    },
  }));
}

/** Writes the list to `file` (0600, replaced atomically). */
export async function writeSimDeviceList(file: string, fleet: SimDeviceListSource): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(simDeviceList(fleet), null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
