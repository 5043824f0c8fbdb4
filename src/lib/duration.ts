// Go-style durations ("250ms", "2s", "1m30s", "4h") for flags and options,
// and the one check of a duration against its bounds.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest delay Node's timers can arm (2^31-1 ms, about 24.8 days); a
 * longer one fires after 1 ms with a TimeoutOverflowWarning. No duration
 * that ends up in a timer may exceed it (sleep() chunks longer waits).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Inclusive bounds of a duration, in milliseconds. */
export interface DurationBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Thrown when a duration is not written as e.g. 250ms, 2s, 1m30s, 4h. */
export class DurationSyntaxError extends Error {
  override name = 'DurationSyntaxError';
}

/** Thrown when a well-formed duration (or a duration option) lies outside its bounds. */
export class DurationRangeError extends DurationSyntaxError {
  override name = 'DurationRangeError';
}

/** "between 1s and 1h" (or "0 to 1h"), the way help text and errors show bounds. */
export function formatBounds(b: DurationBounds): string {
  return `${formatDuration(b.minMs)} to ${formatDuration(b.maxMs)}`;
}

/**
 * Checks `ms` against `bounds`, naming the value `what` in the error.
 * @throws DurationRangeError when ms is not a whole number within the bounds.
 */
export function checkDuration(what: string, ms: number, bounds: DurationBounds): number {
  if (!Number.isInteger(ms) || ms < bounds.minMs || ms > bounds.maxMs) {
    const shown = Number.isFinite(ms) ? formatDuration(ms) : String(ms);
    throw new DurationRangeError(`${what} must be ${formatBounds(bounds)}, got ${shown}`);
  }
  return ms;
}

/**
 * Parses a duration into milliseconds. A bare "0" is allowed; other numbers
 * need a unit. A leading "-" is read (so the bounds, not the syntax, refuse it).
 * @throws DurationSyntaxError on bad syntax; DurationRangeError outside `bounds`
 *   (default: not negative, at most Number.MAX_SAFE_INTEGER).
 */
export function parseDuration(text: string, bounds: DurationBounds = { minMs: 0, maxMs: Number.MAX_SAFE_INTEGER }): number {
  const trimmed = text.trim();
  const negative = trimmed.startsWith('-');
  const s = negative ? trimmed.slice(1) : trimmed;
  let total = 0;
  if (s !== '0') {
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    let matched = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) {
      total += Number(m[1]) * UNITS[m[2]!]!;
      matched = re.lastIndex;
    }
    if (matched === 0 || matched !== s.length) {
      throw new DurationSyntaxError(`invalid duration ${JSON.stringify(text)}: expected e.g. 250ms, 2s, 1m30s, 4h`);
    }
  }
  const ms = Math.round(negative ? -total : total);
  if (!Number.isFinite(ms) || ms < bounds.minMs || ms > bounds.maxMs) {
    throw new DurationRangeError(`duration ${JSON.stringify(text)} out of range: must be ${formatBounds(bounds)}`);
  }
  return ms === 0 ? 0 : ms;
}

/** Formats milliseconds the way parseDuration reads them ("1m30s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const whole = Math.floor(ms / 1000);
  const rest = ms - whole * 1000;
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole - h * 3600) / 60);
  const sec = whole - h * 3600 - m * 60;
  const text = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec ? `${sec}s` : ''}${rest ? `${rest}ms` : ''}`;
  return text;
}
