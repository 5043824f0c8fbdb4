import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EfiSupport, gatherHardwareReport, parseSmbiosTable } from './index.ts';

const MiB = 1024n * 1024n;

/** One SMBIOS structure: header, formatted area filled by `fill`, then its strings. */
function structure(type: number, length: number, fill: (area: DataView) => void, strings: string[] = []): Buffer {
  const area = Buffer.alloc(length);
  area[0] = type;
  area[1] = length;
  fill(new DataView(area.buffer, area.byteOffset, area.length));
  const tail = strings.length === 0 ? Buffer.alloc(2) : Buffer.from(`${strings.join('\0')}\0\0`, 'latin1');
  return Buffer.concat([area, tail]);
}

function biosInformation(uefi: boolean): Buffer {
  return structure(0, 0x18, (a) => a.setUint8(0x13, uefi ? 0x08 : 0x00), ['American Megatrends', '2.1a']);
}

function memoryDevice(size: number, extendedMiB = 0): Buffer {
  return structure(17, 0x28, (a) => {
    a.setUint16(0x0c, size, true);
    a.setUint32(0x1c, extendedMiB, true);
  }, ['DIMM A1', 'Samsung']);
}

const endOfTable = structure(127, 4, () => {});

const table = Buffer.concat([
  biosInformation(true),
  memoryDevice(16384), // 16 GiB in MiB units
  memoryDevice(0), // empty slot
  memoryDevice(0xffff), // unknown size
  memoryDevice(0x7fff, 32768), // 32 GiB via Extended Size
  memoryDevice(0x8000 | 512), // 512 KiB, KiB granularity
  endOfTable,
]);

describe('parseSmbiosTable', () => {
  it('sums installed memory devices, skipping empty and unknown slots', () => {
    assert.equal(parseSmbiosTable(table).memoryInstalledBytes, 48n * 1024n * MiB + 512n * 1024n);
  });

  it('reads UEFI support from the BIOS characteristics', () => {
    assert.equal(parseSmbiosTable(table).uefiSupported, true);
    assert.equal(parseSmbiosTable(Buffer.concat([biosInformation(false), endOfTable])).uefiSupported, false);
  });

  it('returns what it read so far from a truncated table', () => {
    const truncated = Buffer.concat([memoryDevice(8192), memoryDevice(8192)]).subarray(0, 0x28 + 20);
    assert.deepEqual(parseSmbiosTable(truncated), { memoryInstalledBytes: 8192n * MiB });
    assert.deepEqual(parseSmbiosTable(new Uint8Array()), {});
  });
});

describe('gatherHardwareReport with an SMBIOS table', () => {
  it('prefers SMBIOS memory over memory blocks and reports UEFI-capable firmware booted via BIOS as supported', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'hwreport-smbios-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    await cp(join(import.meta.dirname, 'testdata', 'server'), root, { recursive: true, verbatimSymlinks: true });
    await rm(join(root, 'sys/firmware/efi'), { recursive: true });
    await mkdir(join(root, 'sys/firmware/dmi/tables'), { recursive: true });
    await writeFile(join(root, 'sys/firmware/dmi/tables/DMI'), table);

    const { node, warnings } = await gatherHardwareReport({ root });
    assert.equal(node.memoryInstalledBytes, 48n * 1024n * MiB + 512n * 1024n);
    assert.equal(node.efiSupport, EfiSupport.EFI_SUPPORTED);
    assert.deepEqual(warnings, []);
  });
});
