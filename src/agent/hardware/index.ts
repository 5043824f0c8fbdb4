// The agent's hardware report, gathered from Linux /proc and /sys.
export { gatherHardwareReport } from './gather-hardware-report.ts';
export type { GatherHardwareReportOptions, HardwareReport } from './gather-hardware-report.ts';
export { BlockDeviceProtocol, EfiSupport } from './node-report.ts';
export type {
  BlockDeviceReport,
  CpuArchitectureReport,
  CpuReport,
  NetworkInterfaceReport,
  NodeReport,
  X8664Report,
} from './node-report.ts';
export { parseCpuInfo } from './cpu-info.ts';
export { parseSmbiosTable } from './smbios.ts';
export type { SmbiosFacts } from './smbios.ts';
