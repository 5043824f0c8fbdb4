// Public surface of the static device list provider.
export { addressProblem, DeviceListError, parseDeviceList } from './device-list.ts';
export type { Device } from './device-list.ts';
export { DEFAULT_FETCH_TIMEOUT_MS, loadDeviceList, MAX_DEVICE_LIST_BYTES } from './load-device-list.ts';
export { DEFAULT_IPMI_PORT } from './bmc-spec.ts';
export type { BmcPasswordSource, BmcSpec, BmcTls, IpmiBmcSpec, RedfishBmcSpec } from './bmc-spec.ts';
export { BmcPasswordError, resolveBmcPassword, resolveBmcSpec } from './bmc-password.ts';
export type { ResolvedBmcSpec } from './bmc-password.ts';
export { MiniProvider, powerStateToStatus } from './mini-provider.ts';
export { BmcDrivers, bmcOptions } from './bmc-drivers.ts';
export { rebootStep, rebootThroughBmc, type RebootStep } from './bmc-reboot.ts';
export type { MiniProviderOptions } from './mini-provider.ts';
