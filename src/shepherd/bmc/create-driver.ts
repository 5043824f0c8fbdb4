// The driver an options object names.
import type { Logger } from 'pino';
import { IpmiDriver } from './ipmi-driver.ts';
import { RedfishDriver } from './redfish-driver.ts';
import type { BmcDriver, BmcOptions } from './types.ts';

export function createBmcDriver(options: BmcOptions, deps: { log?: Logger } = {}): BmcDriver {
  return options.driver === 'ipmi' ? new IpmiDriver(options, deps) : new RedfishDriver(options, deps);
}
