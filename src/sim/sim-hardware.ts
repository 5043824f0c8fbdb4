// A plausible, per-machine distinct hardware report for a simulated machine:
// a handful of server shapes, with serials and MAC addresses derived from the
// machine's index so every report differs and stays the same across boots.
import { BlockDeviceProtocol, EfiSupport, type BlockDeviceReport, type NodeReport } from '../agent/index.ts';

interface Shape {
  readonly product: string;
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly cpuModel: string;
  readonly family: number;
  readonly model: number;
  readonly memoryGiB: number;
  readonly disks: ReadonlyArray<{ readonly protocol: BlockDeviceProtocol; readonly gb: number; readonly model: string }>;
  readonly nicGbps: number;
}

const SHAPES: readonly Shape[] = [
  { product: 'SIM-c3.small', sockets: 1, coresPerSocket: 8, cpuModel: 'Simulated Xeon E-2278G', family: 6, model: 158, memoryGiB: 32, disks: [{ protocol: BlockDeviceProtocol.ATA, gb: 480, model: 'SIMSSD S480' }], nicGbps: 10 },
  { product: 'SIM-m3.large', sockets: 1, coresPerSocket: 32, cpuModel: 'Simulated EPYC 7502P', family: 23, model: 49, memoryGiB: 256, disks: [{ protocol: BlockDeviceProtocol.NVME, gb: 3840, model: 'SIMNVME N3840' }, { protocol: BlockDeviceProtocol.NVME, gb: 3840, model: 'SIMNVME N3840' }], nicGbps: 25 },
  { product: 'SIM-s3.xlarge', sockets: 2, coresPerSocket: 12, cpuModel: 'Simulated Xeon Silver 4214', family: 6, model: 85, memoryGiB: 192, disks: [{ protocol: BlockDeviceProtocol.SCSI, gb: 8000, model: 'SIMHDD H8000' }, { protocol: BlockDeviceProtocol.SCSI, gb: 8000, model: 'SIMHDD H8000' }, { protocol: BlockDeviceProtocol.ATA, gb: 240, model: 'SIMSSD S240' }], nicGbps: 10 },
  { product: 'SIM-n3.xlarge', sockets: 2, coresPerSocket: 16, cpuModel: 'Simulated Xeon Gold 6314U', family: 6, model: 106, memoryGiB: 512, disks: [{ protocol: BlockDeviceProtocol.NVME, gb: 1920, model: 'SIMNVME N1920' }], nicGbps: 100 },
];

const GB = 1_000_000_000n;
const GiB = 1024n ** 3n;

/** The report machine number `index` (0-based) sends. */
export function simulatedHardware(index: number): NodeReport {
  const shape = SHAPES[index % SHAPES.length]!;
  const serial = `SIM${String(index + 1).padStart(6, '0')}`;
  const disk = (d: Shape['disks'][number], i: number): BlockDeviceReport => ({
    vendor: d.protocol === BlockDeviceProtocol.NVME ? '' : 'SIMVENDOR',
    deviceModel: d.model,
    serialNumber: `${serial}D${i}`,
    wwn: new Uint8Array(),
    rotational: d.model.startsWith('SIMHDD'),
    capacityBytes: BigInt(d.gb) * GB,
    logicalBlockSizeBytes: 512,
    physicalBlockSizeBytes: d.model.startsWith('SIMHDD') ? 4096 : 512,
    protocol: d.protocol,
    criticalWarning: false,
  });
  // Locally administered unicast MACs (02:…), unique per machine and port.
  const mac = (port: number) => new Uint8Array([0x02, 0x42, (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff, port]);
  const speed = BigInt(shape.nicGbps) * 125_000_000n;
  return {
    manufacturer: 'bmaas simulator',
    product: shape.product,
    serialNumber: serial,
    efiSupport: EfiSupport.EFI_ENABLED,
    memoryInstalledBytes: BigInt(shape.memoryGiB) * GiB,
    memoryUsableRatio: 0.97,
    cpu: Array.from({ length: shape.sockets }, () => ({
      architecture: { case: 'x8664' as const, value: { family: shape.family, model: shape.model, stepping: index % 4 } },
      cores: shape.coresPerSocket,
      hardwareThreads: shape.coresPerSocket * 2,
      vendor: shape.family === 23 ? 'AuthenticAMD' : 'GenuineIntel',
      model: shape.cpuModel,
    })),
    blockDevice: shape.disks.map(disk),
    networkInterface: [0, 1].map((port) => ({
      mac: mac(port),
      driver: shape.nicGbps >= 100 ? 'mlx5_core' : 'ixgbe',
      supportedSpeedBytes: [speed],
      linkUp: port === 0,
      currentSpeedBytes: port === 0 ? speed : 0n,
    })),
  };
}
