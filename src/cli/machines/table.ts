// Plain-text tables for `bmaas machines` on a terminal: columns padded to
// their widest cell, cells cut to one line.

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  const s = v instanceof Date ? v.toISOString().replace(/\.\d{3}Z$/, 'Z') : String(v);
  const line = s.split('\n', 1)[0]!;
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
};

export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** "3m12s ago" style age of a time, for the list's heartbeat column. */
export function age(d: Date | null, now = Date.now()): string {
  if (!d) return '-';
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}
