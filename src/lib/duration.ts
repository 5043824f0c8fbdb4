// Go-style durations ("250ms", "2s", "1m30s", "4h") for flags.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export class DurationSyntaxError extends Error {
  override name = 'DurationSyntaxError';
}

/** Parses a duration into milliseconds. A bare "0" is allowed; other numbers need a unit. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) {
    throw new DurationSyntaxError(`invalid duration ${JSON.stringify(text)}: expected e.g. 250ms, 2s, 1m30s, 4h`);
  }
  return Math.round(total);
}

/** Formats milliseconds the way parseDuration reads them ("1m30s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 1000 || ms % 1000 !== 0) return `${ms}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const sec = rest - m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec ? `${sec}s` : ''}`;
}
