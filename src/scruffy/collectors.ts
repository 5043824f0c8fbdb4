// The gauges a stats exporter maintains. New groups (derived states, stuck and
// quarantined machines, the storm guard) are added to this list.
import type { StatsCollectorFactory } from './collector.ts';
import { hardwareStatsCollector } from './hardware-stats.ts';
import { machineStatsCollector } from './machine-stats.ts';
import { sessionStatsCollector } from './session-stats.ts';

export const DEFAULT_COLLECTORS: readonly StatsCollectorFactory[] = Object.freeze([machineStatsCollector, sessionStatsCollector, hardwareStatsCollector]);
