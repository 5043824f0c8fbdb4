// `bmaas dev`: the whole system in one process on a simulated fleet.
export {
  DEV_COUNT_BOUNDS,
  DEV_DEFAULT_FAULTS,
  DEV_DEFAULTS,
  DEV_DURATION_BOUNDS,
  DEV_FLEET_HEARTBEATS_PER_SECOND,
  DEV_LOOP_SETTINGS,
  DevOptionsError,
  devLoopSettings,
  resolveDevTiming,
  validateDevOptions,
  type DevLoopSettings,
  type DevOptions,
  type DevTiming,
} from './dev-options.ts';
export { machineConverged, summarizeFleet, type Convergence, type FleetSummary, type FleetView } from './fleet-summary.ts';
export { LiveSummary, renderSummaryBlock, renderSummaryLine, formatElapsed, type SummaryContext } from './summary-view.ts';
export { runDev, type DevIo, type DevOutcome } from './run-dev.ts';
export { DataDirBusyError, lockDataDir } from './data-dir-lock.ts';
export { ensurePrivateDir, logTightened, tightenMode, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type Tightened } from './private-files.ts';
export { OutageProxy, OutageSyntaxError, parseServerOutage, type ServerOutage } from './outage-proxy.ts';
