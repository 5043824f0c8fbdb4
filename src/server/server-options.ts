// The agent callback server's defaults and bounds, written once: the server
// resolves its timings through these, and `bmaas server` takes its flag
// defaults, bounds and help text from them.
import { checkDuration, type DurationBounds } from '../lib/duration.ts';

export const CALLBACK_SERVER_DEFAULTS = Object.freeze({
  listenAddress: '127.0.0.1:8080',
  /** Longest a heartbeat may take on the server. */
  callTimeoutMs: 10_000,
  /** How long calls in flight may finish at close(). */
  shutdownGraceMs: 5_000,
});

export const CALLBACK_SERVER_BOUNDS: { readonly callTimeoutMs: DurationBounds; readonly shutdownGraceMs: DurationBounds } = Object.freeze({
  // A zero timeout would refuse every heartbeat with DEADLINE_EXCEEDED.
  callTimeoutMs: Object.freeze({ minMs: 1, maxMs: 600_000 }),
  // Zero is allowed: abort calls in flight at once.
  shutdownGraceMs: Object.freeze({ minMs: 0, maxMs: 3_600_000 }),
});

/**
 * The call timeout to use: the default when not given.
 * @throws DurationRangeError when it lies outside CALLBACK_SERVER_BOUNDS.callTimeoutMs.
 */
export function resolveCallTimeoutMs(given: number | undefined): number {
  return given === undefined ? CALLBACK_SERVER_DEFAULTS.callTimeoutMs : checkDuration('call timeout', given, CALLBACK_SERVER_BOUNDS.callTimeoutMs);
}

/**
 * The shutdown grace to use: the default when not given.
 * @throws DurationRangeError when it lies outside CALLBACK_SERVER_BOUNDS.shutdownGraceMs.
 */
export function resolveShutdownGraceMs(given: number | undefined): number {
  return given === undefined ? CALLBACK_SERVER_DEFAULTS.shutdownGraceMs : checkDuration('shutdown grace', given, CALLBACK_SERVER_BOUNDS.shutdownGraceMs);
}
