// Public surface of the stats exporter (scruffy).
export { ScruffyExporter, ScruffyStateError, type ScruffyState } from './exporter.ts';
export {
  resolveScruffyOptions,
  ScruffyOptionsError,
  DEFAULT_COLLECTION_INTERVAL_MS,
  DEFAULT_HARDWARE_PAGE_SIZE,
  DEFAULT_SHUTDOWN_GRACE_MS,
  SCRUFFY_BOUNDS,
  DEFAULT_SESSION_COMPONENTS,
  type ScruffyOptions,
  type ResolvedScruffyOptions,
} from './options.ts';
export type { StatsCollector, StatsCollectorFactory, CollectContext } from './collector.ts';
export { DEFAULT_COLLECTORS } from './collectors.ts';
export { collectHardwareTotals, type HardwareTotals, type RegionTotals } from './hardware-stats.ts';
export { readOnly, type ReadFn } from './read-only.ts';
