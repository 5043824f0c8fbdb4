// Installed and usable memory. Installed comes from the best source present:
// the SMBIOS inventory, else the kernel's memory blocks (block size × online
// blocks, which covers RAM the kernel reserved for itself), else MemTotal.
import type { SysfsScope } from './sysfs-reader.ts';

export interface MemoryFacts {
  memoryInstalledBytes: bigint;
  memoryUsableRatio: number;
}

// Reading thousands of tiny files one by one is slow, all at once opens too many.
const batchSize = 64;

async function readMemTotal(proc: SysfsScope): Promise<bigint | undefined> {
  const text = await proc.text('meminfo');
  if (text === undefined) return undefined;
  const match = /^MemTotal:\s+(\d+)\s*kB$/m.exec(text);
  if (!match?.[1]) {
    proc.warn('meminfo', 'no MemTotal line');
    return undefined;
  }
  return BigInt(match[1]) * 1024n;
}

/** Block size × online blocks from /sys/devices/system/memory; undefined when not available. */
async function readMemoryBlocks(memory: SysfsScope): Promise<bigint | undefined> {
  const names = await memory.list('', { optional: true });
  if (names === undefined) return undefined;
  const blocks = names.filter((n) => /^memory\d+$/.test(n));
  if (blocks.length === 0) return undefined;
  const sizeHex = await memory.text('block_size_bytes');
  // The kernel prints the block size in hexadecimal without a prefix.
  if (sizeHex === undefined || !/^[0-9a-f]+$/i.test(sizeHex)) {
    if (sizeHex !== undefined) memory.warn('block_size_bytes', 'not hexadecimal');
    return undefined;
  }
  const blockSize = BigInt(`0x${sizeHex}`);
  let online = 0n;
  let unreadable = 0;
  for (let i = 0; i < blocks.length; i += batchSize) {
    const states = await Promise.all(
      blocks.slice(i, i + batchSize).map((b) => memory.text(`${b}/online`, { optional: true, quiet: ['EACCES', 'EPERM', 'EIO'] })),
    );
    for (const state of states) {
      if (state === '1') online++;
      else if (state === undefined) unreadable++;
    }
  }
  // One summary instead of a warning per block.
  if (unreadable > 0) memory.warn('', `${unreadable} of ${blocks.length} memory blocks have no readable online state`);
  return online > 0n ? online * blockSize : undefined;
}

/**
 * Reads installed memory and the usable ratio (MemTotal / installed). `fromSmbios`
 * is the SMBIOS total when the firmware table was readable.
 */
export async function readMemory(
  scopes: { proc: SysfsScope; memory: SysfsScope },
  fromSmbios: bigint | undefined,
): Promise<MemoryFacts> {
  const memTotal = await readMemTotal(scopes.proc);
  const installed = fromSmbios ?? (await readMemoryBlocks(scopes.memory)) ?? memTotal ?? 0n;
  const ratio = memTotal !== undefined && installed > 0n ? Number(memTotal) / Number(installed) : 0;
  return { memoryInstalledBytes: installed, memoryUsableRatio: ratio };
}
