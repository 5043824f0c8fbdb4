// webug's defaults and bounds that `bmaas webug` turns into flags.
import type { DurationBounds } from '../lib/duration.ts';

export const WEBUG_DEFAULTS = Object.freeze({
  /** How often live pages refresh. */
  liveMs: 2000,
});

export const WEBUG_BOUNDS: { readonly liveMs: DurationBounds } = Object.freeze({
  liveMs: Object.freeze({ minMs: 500, maxMs: 3_600_000 }),
});
