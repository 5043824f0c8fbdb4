// The hardware report as a plain object. Its shape mirrors the init shape that
// protobuf-es v2 generates for `cloud.agent.api.Node` (docs/architecture.md#wire-contract), so that
// `create(NodeSchema, report)` accepts it without a conversion step, while this
// folder does not depend on the generated code.

/** Values of the `cloud.agent.api.EFISupport` enum. */
export const EfiSupport = {
  EFI_INVALID: 0,
  EFI_UNKNOWN: 1,
  EFI_UNSUPPORTED: 2,
  EFI_SUPPORTED: 3,
  EFI_ENABLED: 4,
} as const;
export type EfiSupport = (typeof EfiSupport)[keyof typeof EfiSupport];

/** Values of the `cloud.agent.api.BlockDevice.Protocol` enum. */
export const BlockDeviceProtocol = {
  UNKNOWN: 0,
  SCSI: 1,
  ATA: 2,
  NVME: 3,
  MMC: 4,
} as const;
export type BlockDeviceProtocol = (typeof BlockDeviceProtocol)[keyof typeof BlockDeviceProtocol];

export interface X8664Report {
  family: number;
  model: number;
  stepping: number;
}

/**
 * The `architecture` oneof. protobuf-es names the case after the field's
 * camel-cased name, and `x86_64` camel-cases to `x8664`.
 */
export type CpuArchitectureReport =
  | { case: 'x8664'; value: X8664Report }
  | { case: undefined; value?: undefined };

/** One CPU package (socket). */
export interface CpuReport {
  architecture: CpuArchitectureReport;
  cores: number;
  hardwareThreads: number;
  vendor: string;
  model: string;
}

export interface BlockDeviceReport {
  vendor: string;
  deviceModel: string;
  serialNumber: string;
  wwn: Uint8Array;
  rotational: boolean;
  capacityBytes: bigint;
  logicalBlockSizeBytes: number;
  physicalBlockSizeBytes: number;
  protocol: BlockDeviceProtocol;
  criticalWarning: boolean;
  // SMART data is not in sysfs; these stay unset until something reads it.
  mediaErrors?: bigint;
  availableSpareRatio?: number;
  usageRatio?: number;
}

export interface NetworkInterfaceReport {
  mac: Uint8Array;
  driver: string;
  /** Bytes per second, like `currentSpeedBytes`. */
  supportedSpeedBytes: bigint[];
  linkUp: boolean;
  /** Bytes per second (sysfs reports Mb/s; 1 Mb/s = 125,000 B/s). */
  currentSpeedBytes: bigint;
}

export interface NodeReport {
  manufacturer: string;
  product: string;
  serialNumber: string;
  efiSupport: EfiSupport;
  memoryInstalledBytes: bigint;
  /** MemTotal (what the kernel can use) divided by installed memory; 0 when unknown. */
  memoryUsableRatio: number;
  cpu: CpuReport[];
  blockDevice: BlockDeviceReport[];
  networkInterface: NetworkInterfaceReport[];
}
