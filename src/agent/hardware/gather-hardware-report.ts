// Assembles the agent's hardware report from /proc and /sys.
import { readBlockDevices } from './block-devices.ts';
import { readCpus } from './cpu-info.ts';
import { readDmi } from './dmi.ts';
import { readEfiSupport } from './efi.ts';
import { readMemory } from './memory.ts';
import { readNetworkInterfaces } from './network-interfaces.ts';
import type { NodeReport } from './node-report.ts';
import { readSmbios } from './smbios.ts';
import { openScope } from './sysfs-reader.ts';

export interface GatherHardwareReportOptions {
  /** Directory that holds `proc` and `sys`; tests point it at a fixture tree. Default `/`. */
  readonly root?: string;
  /** Aborting rejects the promise with the signal's reason; nothing else rejects it. */
  readonly signal?: AbortSignal;
}

export interface HardwareReport {
  node: NodeReport;
  /** One line per file that could not be read or understood, e.g. `dmi: product_serial: permission denied`. */
  warnings: string[];
}

/**
 * Reads what the machine has. Never fails for missing or unreadable files:
 * each becomes a warning and the field keeps its zero value, so even an empty
 * root yields a (mostly empty) report.
 */
export async function gatherHardwareReport(opts: GatherHardwareReportOptions = {}): Promise<HardwareReport> {
  const warnings: string[] = [];
  const scope = (section: string, base: string) =>
    openScope({ root: opts.root ?? '/', base, section, warnings, signal: opts.signal });

  // Sections run one after another so warnings come out in a stable order.
  const smbios = await readSmbios(scope('smbios', 'sys/firmware/dmi/tables'));
  const dmi = await readDmi(scope('dmi', 'sys/class/dmi/id'));
  const efiSupport = await readEfiSupport(scope('efi', 'sys/firmware'), smbios);
  const memory = await readMemory(
    { proc: scope('memory', 'proc'), memory: scope('memory', 'sys/devices/system/memory') },
    smbios.memoryInstalledBytes,
  );
  const cpu = await readCpus(scope('cpu', 'proc'));
  const blockDevice = await readBlockDevices(scope('block', 'sys/block'));
  const networkInterface = await readNetworkInterfaces(scope('net', 'sys/class/net'));

  return {
    node: { ...dmi, efiSupport, ...memory, cpu, blockDevice, networkInterface },
    warnings,
  };
}
