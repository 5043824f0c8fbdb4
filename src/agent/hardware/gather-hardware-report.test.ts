import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlockDeviceProtocol, EfiSupport, gatherHardwareReport } from './index.ts';

const testdata = join(import.meta.dirname, 'testdata');
const GiB = 1024n ** 3n;

describe('gatherHardwareReport on a two-socket server', async () => {
  const { node, warnings } = await gatherHardwareReport({ root: join(testdata, 'server') });

  it('reads DMI identity and reports EFI as enabled', () => {
    assert.equal(node.manufacturer, 'Supermicro');
    assert.equal(node.product, 'SYS-120U-TNR');
    assert.equal(node.serialNumber, 'S123456789ABC');
    assert.equal(node.efiSupport, EfiSupport.EFI_ENABLED);
  });

  it('counts installed memory from online memory blocks and relates MemTotal to it', () => {
    // 16 online 2 GiB blocks; the 17th block is offline.
    assert.equal(node.memoryInstalledBytes, 32n * GiB);
    assert.equal(node.memoryUsableRatio, (32_780_000 * 1024) / Number(32n * GiB));
  });

  it('reports one CPU per socket with its cores and threads', () => {
    const xeon = {
      architecture: { case: 'x8664', value: { family: 6, model: 106, stepping: 6 } },
      cores: 2,
      hardwareThreads: 4,
      vendor: 'GenuineIntel',
      model: 'Intel(R) Xeon(R) Gold 5318Y CPU @ 2.10GHz',
    };
    assert.deepEqual(node.cpu, [xeon, xeon]);
  });

  it('reports the NVMe drive, the SATA SSD and the SCSI disk in name order, skipping kernel and optical devices', () => {
    assert.deepEqual(node.blockDevice, [
      {
        vendor: '',
        deviceModel: 'SAMSUNG MZQL2960HCJR-00A07',
        serialNumber: 'S64FNE0R123456',
        wwn: Uint8Array.from([0x00, 0x25, 0x38, 0x8b, 0x71, 0xb2, 0xc1, 0xd4]),
        rotational: false,
        capacityBytes: 1875385008n * 512n,
        logicalBlockSizeBytes: 4096,
        physicalBlockSizeBytes: 4096,
        protocol: BlockDeviceProtocol.NVME,
        criticalWarning: false,
      },
      {
        vendor: 'ATA',
        deviceModel: 'Samsung SSD 870',
        serialNumber: 'S5Y2NX0R123456X',
        wwn: Uint8Array.from([0x50, 0x02, 0x53, 0x8f, 0x41, 0x23, 0x45, 0x67]),
        rotational: false,
        capacityBytes: 1875385008n * 512n,
        logicalBlockSizeBytes: 512,
        physicalBlockSizeBytes: 4096,
        protocol: BlockDeviceProtocol.ATA,
        criticalWarning: false,
      },
      {
        vendor: 'SEAGATE',
        deviceModel: 'ST4000NM0025',
        serialNumber: 'ZC1ABCDE',
        wwn: Uint8Array.from([0x50, 0x00, 0xc5, 0x00, 0xa1, 0xb2, 0xc3, 0xd4]),
        rotational: true,
        capacityBytes: 7814037168n * 512n,
        logicalBlockSizeBytes: 512,
        physicalBlockSizeBytes: 512,
        protocol: BlockDeviceProtocol.SCSI,
        criticalWarning: false,
      },
    ]);
  });

  it('leaves NVMe SMART fields unset, since sysfs does not have them', () => {
    const nvme = node.blockDevice[0];
    assert.ok(nvme);
    assert.equal('mediaErrors' in nvme, false);
    assert.equal('availableSpareRatio' in nvme, false);
    assert.equal('usageRatio' in nvme, false);
  });

  it('reports both physical NICs, converting Mb/s to bytes/s, and skips loopback and the bridge', () => {
    assert.deepEqual(node.networkInterface, [
      {
        mac: Uint8Array.from([0x3c, 0xec, 0xef, 0x12, 0x34, 0x56]),
        driver: 'igb',
        supportedSpeedBytes: [],
        linkUp: true,
        currentSpeedBytes: 125_000_000n, // 1000 Mb/s
      },
      {
        mac: Uint8Array.from([0x3c, 0xec, 0xef, 0xab, 0xcd, 0xef]),
        driver: 'ixgbe',
        supportedSpeedBytes: [],
        linkUp: false,
        currentSpeedBytes: 0n,
      },
    ]);
  });

  it('has nothing to warn about', () => {
    assert.deepEqual(warnings, []);
  });
});

describe('gatherHardwareReport on a small VM', async () => {
  const { node, warnings } = await gatherHardwareReport({ root: join(testdata, 'vm') });

  it('warns about the missing DMI serial and reports EFI as unsupported', () => {
    assert.equal(node.manufacturer, 'QEMU');
    assert.equal(node.serialNumber, '');
    assert.equal(node.efiSupport, EfiSupport.EFI_UNSUPPORTED);
    assert.deepEqual(warnings, ['dmi: product_serial: not found']);
  });

  it('falls back to MemTotal for installed memory', () => {
    assert.equal(node.memoryInstalledBytes, 4026532n * 1024n);
    assert.equal(node.memoryUsableRatio, 1);
  });

  it('treats processors without a physical id as one package', () => {
    assert.deepEqual(node.cpu, [
      {
        architecture: { case: 'x8664', value: { family: 6, model: 85, stepping: 6 } },
        cores: 2,
        hardwareThreads: 2,
        vendor: 'GenuineIntel',
        model: 'Intel Xeon Processor (Cascadelake)',
      },
    ]);
  });

  it('reports the virtio disk with protocol UNKNOWN and its serial', () => {
    assert.equal(node.blockDevice.length, 1);
    assert.partialDeepStrictEqual(node.blockDevice[0], {
      vendor: '',
      serialNumber: 'vm-disk-0',
      rotational: true,
      capacityBytes: 20n * GiB,
      protocol: BlockDeviceProtocol.UNKNOWN,
    });
  });

  it('reports the virtio NIC with its driver and an unknown speed as 0', () => {
    assert.deepEqual(node.networkInterface, [
      {
        mac: Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
        driver: 'virtio_net',
        supportedSpeedBytes: [],
        linkUp: true,
        currentSpeedBytes: 0n,
      },
    ]);
  });
});

describe('gatherHardwareReport on an empty root', () => {
  it('returns an empty report with one warning per missing source instead of throwing', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'hwreport-empty-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const { node, warnings } = await gatherHardwareReport({ root });
    assert.deepEqual(node, {
      manufacturer: '',
      product: '',
      serialNumber: '',
      efiSupport: EfiSupport.EFI_UNKNOWN,
      memoryInstalledBytes: 0n,
      memoryUsableRatio: 0,
      cpu: [],
      blockDevice: [],
      networkInterface: [],
    });
    assert.deepEqual(warnings, [
      'dmi: /sys/class/dmi/id: not found',
      'efi: /sys/firmware: not found',
      'memory: meminfo: not found',
      'cpu: cpuinfo: not found',
      'block: /sys/block: not found',
      'net: /sys/class/net: not found',
    ]);
  });
});

describe('gatherHardwareReport with a signal', () => {
  it('rejects with the abort reason once aborted', async () => {
    const reason = new Error('shutting down');
    await assert.rejects(
      gatherHardwareReport({ root: join(testdata, 'server'), signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
  });
});

describe('gatherHardwareReport on this machine', () => {
  it('finds at least one CPU and some memory', async () => {
    const { node } = await gatherHardwareReport({ root: '/' });
    assert.ok(node.cpu.length >= 1, 'no CPU found');
    assert.ok((node.cpu[0]?.hardwareThreads ?? 0) >= 1);
    assert.ok(node.memoryInstalledBytes > 0n, 'no memory found');
  });
});
