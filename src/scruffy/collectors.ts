// The gauges a stats exporter maintains; a new group is one more entry.
import type { StatsCollectorFactory } from './collector.ts';
import { hardwareStatsCollector } from './hardware-stats.ts';
import { machineStatsCollector } from './machine-stats.ts';
import { sessionStatsCollector } from './session-stats.ts';
import { stateStatsCollector } from './state-stats.ts';

export const DEFAULT_COLLECTORS: readonly StatsCollectorFactory[] = Object.freeze([machineStatsCollector, stateStatsCollector, sessionStatsCollector, hardwareStatsCollector]);
