// BMC power control: drivers for Redfish and IPMI behind one small interface,
// and checked power actions (read, act, confirm) on top of them.
export { CHECKED_POWER_DEFAULTS, checkedPowerCycle, checkedRestart, PowerStateInTransitionError } from './checked-power.ts';
export type { CheckedPowerOptions, PowerActionResult, RestartType } from './checked-power.ts';
export { certificateFingerprint, normaliseFingerprint } from './bmc-tls.ts';
export { createBmcDriver } from './create-driver.ts';
export { BmcAuthError, BmcConnectionError, BmcError, BmcHttpError, BmcProtocolError, BmcSystemSelectionError, PowerActionNotConfirmedError, PowerStateUnreadableError, ResetTypeNotAllowedError } from './errors.ts';
export { IPMI_DEFAULTS, IPMI_RESET_TYPES, IpmiDriver, parseIpmiEndpoint } from './ipmi-driver.ts';
export { FALLBACK_RESET_TYPES, REDFISH_DEFAULTS, RedfishDriver } from './redfish-driver.ts';
export { RESET_TYPES } from './types.ts';
export type { BmcCallOptions, BmcDriver, BmcOptions, BmcTimeouts, BmcTls, PasswordSource, PowerReading, PowerState, ResetType } from './types.ts';
export { powerMetrics, powerResultLabel, timePowerAction, type PowerDriverLabel, type PowerMetrics } from './power-metrics.ts';
