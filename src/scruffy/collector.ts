// The seam every group of gauges plugs into. A collection round runs every
// collector's read first and applies the results only when all of them
// succeeded, so a failed round leaves every gauge at its last value.
//
// Each group of gauges is one StatsCollector in its own file, listed in
// DEFAULT_COLLECTORS (collectors.ts).
import type { Registry } from 'prom-client';
import type { ResolvedScruffyOptions } from './options.ts';
import type { ReadFn } from './read-only.ts';

export interface CollectContext {
  /** Runs `fn` in one read-only BMDB transaction. */
  readonly read: ReadFn;
  readonly options: ResolvedScruffyOptions;
  /** Aborted when the exporter stops for good; pass it to every query. */
  readonly signal: AbortSignal;
}

export interface StatsCollector {
  /** For logs: which part of a round failed. */
  readonly name: string;
  /**
   * Reads the BMDB and returns the function that sets this collector's gauges.
   * The returned function must be synchronous, so a scrape never sees half a round.
   */
  collect(ctx: CollectContext): Promise<() => void>;
}

/** Creates a collector and registers its gauges on the registry. */
export type StatsCollectorFactory = (registry: Registry, options: ResolvedScruffyOptions) => StatsCollector;
