// Public surface of the static device list provider.
export { addressProblem, DEFAULT_FETCH_TIMEOUT_MS, DeviceListError, loadDeviceList, parseDeviceList } from './device-list.ts';
export type { Device } from './device-list.ts';
export { MiniProvider } from './mini-provider.ts';
export type { MiniProviderOptions } from './mini-provider.ts';
