// Facts from the raw SMBIOS structure table (/sys/firmware/dmi/tables/DMI,
// readable by root only). The firmware's own inventory is the best source for
// installed memory and whether it can boot via UEFI at all.
import type { SysfsScope } from './sysfs-reader.ts';

export interface SmbiosFacts {
  /** Sum of all installed memory devices (structure type 17). */
  memoryInstalledBytes?: bigint;
  /** BIOS Characteristics Extension Byte 2, bit 3 (structure type 0). */
  uefiSupported?: boolean;
}

const typeBiosInformation = 0;
const typeMemoryDevice = 17;
const typeEndOfTable = 127;
const KiB = 1024n;
const MiB = 1024n * 1024n;

/** The size of one type-17 structure in bytes; 0 for an empty slot, undefined when unknown. */
function memoryDeviceBytes(s: DataView): bigint | undefined {
  if (s.byteLength < 0x0e) return undefined;
  const size = s.getUint16(0x0c, true);
  if (size === 0xffff) return undefined;
  if (size === 0x7fff) {
    // Too large for the word: the real size, in MiB, is in the Extended Size field.
    if (s.byteLength < 0x20) return undefined;
    return BigInt(s.getUint32(0x1c, true) & 0x7fffffff) * MiB;
  }
  // Bit 15 picks the unit: set means KiB, clear means MiB.
  return (size & 0x8000) !== 0 ? BigInt(size & 0x7fff) * KiB : BigInt(size) * MiB;
}

/** Walks the structures of a raw SMBIOS table; a truncated table yields what was read so far. */
export function parseSmbiosTable(table: Uint8Array): SmbiosFacts {
  const facts: SmbiosFacts = {};
  let installed = 0n;
  let offset = 0;
  while (offset + 4 <= table.length) {
    const type = table[offset] ?? typeEndOfTable;
    const length = table[offset + 1] ?? 0;
    if (length < 4 || offset + length > table.length) break;
    const formatted = new DataView(table.buffer, table.byteOffset + offset, length);
    if (type === typeMemoryDevice) installed += memoryDeviceBytes(formatted) ?? 0n;
    if (type === typeBiosInformation && length > 0x13) {
      facts.uefiSupported = (formatted.getUint8(0x13) & 0x08) !== 0;
    }
    if (type === typeEndOfTable) break;
    // The formatted part is followed by its strings, ended by two NUL bytes.
    let end = offset + length;
    while (end + 1 < table.length && !(table[end] === 0 && table[end + 1] === 0)) end++;
    offset = end + 2;
  }
  if (installed > 0n) facts.memoryInstalledBytes = installed;
  return facts;
}

/** Reads and parses the table; an absent table (VMs, non-x86) is not worth a warning. */
export async function readSmbios(tables: SysfsScope): Promise<SmbiosFacts> {
  const table = await tables.bytes('DMI', { optional: true });
  return table === undefined ? {} : parseSmbiosTable(table);
}
