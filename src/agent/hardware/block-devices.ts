// Disks from /sys/block. Only whole disks appear there; partitions do not.
import { BlockDeviceProtocol, type BlockDeviceReport } from './node-report.ts';
import type { SysfsScope } from './sysfs-reader.ts';

/** Kernel-made and optical devices that are not storage an installer would use. */
const skipped = /^(loop|ram|zram|dm-|md|sr)/;

/** The `size` attribute counts 512-byte sectors whatever the device's block size. */
const sectorBytes = 512n;

const optional = { optional: true } as const;

/**
 * `naa.` (SCSI/ATA) and `eui.` (NVMe) identifiers are World Wide Names in
 * hexadecimal; other forms (`t10.`, `nvme.`) are vendor strings, not WWNs.
 */
export function parseWwid(text: string): Uint8Array | undefined {
  const match = /^(?:naa|eui)\.((?:[0-9a-f]{2})+)$/i.exec(text);
  return match?.[1] ? Uint8Array.from(Buffer.from(match[1], 'hex')) : undefined;
}

/** The unit serial number from SCSI VPD page 0x80: a 4-byte header, then ASCII. */
function serialFromVpd80(page: Buffer): string | undefined {
  if (page.length < 4 || page[1] !== 0x80) return undefined;
  const length = page.readUInt16BE(2);
  const serial = page.subarray(4, 4 + length).toString('latin1').trim();
  return serial === '' ? undefined : serial;
}

function protocolFromName(name: string): BlockDeviceProtocol | 'sd' {
  if (name.startsWith('nvme')) return BlockDeviceProtocol.NVME;
  if (name.startsWith('mmcblk')) return BlockDeviceProtocol.MMC;
  if (name.startsWith('sd')) return 'sd';
  return BlockDeviceProtocol.UNKNOWN;
}

async function readSerial(disk: SysfsScope): Promise<string> {
  const direct = (await disk.text('device/serial', optional)) ?? (await disk.text('serial', optional));
  if (direct) return direct;
  const page = await disk.bytes('device/vpd_pg80', optional);
  return (page && serialFromVpd80(page)) ?? '';
}

async function readDisk(disk: SysfsScope, name: string): Promise<BlockDeviceReport> {
  const kind = protocolFromName(name);
  const [sectors, logical, physical, rotational, serialNumber, wwid] = await Promise.all([
    disk.text('size'),
    disk.int('queue/logical_block_size'),
    disk.int('queue/physical_block_size'),
    disk.text('queue/rotational'),
    readSerial(disk),
    disk.text('device/wwid', optional).then(async (w) => w ?? (await disk.text('wwid', optional))),
  ]);
  let vendor = '';
  let deviceModel = '';
  let protocol: BlockDeviceProtocol = kind === 'sd' ? BlockDeviceProtocol.SCSI : kind;
  if (kind === 'sd') {
    vendor = (await disk.text('device/vendor', optional)) ?? '';
    deviceModel = (await disk.text('device/model', optional)) ?? '';
    // libata shows SATA disks as SCSI with vendor "ATA", below an ataN port.
    const path = await disk.link('', { optional: true, quiet: ['EINVAL'] });
    if (vendor === 'ATA' || (path !== undefined && /\/ata\d+\//.test(path))) protocol = BlockDeviceProtocol.ATA;
  } else if (kind === BlockDeviceProtocol.NVME) {
    deviceModel = (await disk.text('device/model', optional)) ?? '';
  } else if (kind === BlockDeviceProtocol.MMC) {
    deviceModel = (await disk.text('device/name', optional)) ?? '';
  }
  let capacityBytes = 0n;
  if (sectors !== undefined) {
    if (/^\d+$/.test(sectors)) capacityBytes = BigInt(sectors) * sectorBytes;
    else disk.warn('size', 'not a number');
  }
  return {
    vendor,
    deviceModel,
    serialNumber,
    wwn: (wwid !== undefined ? parseWwid(wwid) : undefined) ?? new Uint8Array(),
    rotational: rotational === '1',
    capacityBytes,
    logicalBlockSizeBytes: logical ?? 0,
    physicalBlockSizeBytes: physical ?? 0,
    protocol,
    // NVMe SMART data is not exposed in sysfs; criticalWarning stays false and
    // the optional health fields stay unset.
    criticalWarning: false,
  };
}

/** Every whole disk except loop, RAM, zram, device-mapper, md RAID and optical devices. */
export async function readBlockDevices(block: SysfsScope): Promise<BlockDeviceReport[]> {
  const names = await block.list('');
  const found: BlockDeviceReport[] = [];
  for (const name of names ?? []) {
    if (skipped.test(name)) continue;
    found.push(await readDisk(block.sub(name), name));
  }
  return found;
}
