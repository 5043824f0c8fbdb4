// Public surface of the static device list provider.
export { addressProblem, DeviceListError, parseDeviceList } from './device-list.ts';
export type { Device } from './device-list.ts';
export { DEFAULT_FETCH_TIMEOUT_MS, loadDeviceList, MAX_DEVICE_LIST_BYTES } from './load-device-list.ts';
export { DEFAULT_IPMI_PORT } from './bmc-spec.ts';
export type { BmcPasswordSource, BmcSpec, BmcTls, IpmiBmcSpec, RedfishBmcSpec } from './bmc-spec.ts';
export { BmcPasswordError, resolveBmcPassword, resolveBmcSpec } from './bmc-password.ts';
export type { ResolvedBmcSpec } from './bmc-password.ts';
export { MiniProvider } from './mini-provider.ts';
export type { MiniProviderOptions } from './mini-provider.ts';
