// Turns a FleetSummary into text: a block redrawn in place on a terminal, or
// one line per refresh when the output is a file or a pipe (CI, `| tee`).
import type { FleetSummary } from './fleet-summary.ts';

export interface SummaryContext {
  readonly elapsedMs: number;
  /** Label and value pairs shown at the top, e.g. the web UI's URL. */
  readonly links: ReadonlyArray<readonly [string, string]>;
  readonly footer?: string;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What the BMCs were asked, e.g. `GracefulRestart ok 5, ForceRestart ok 1, GracefulRestart 503 2` (none: `none yet`). */
function formatBmcPower(s: FleetSummary): string {
  if (s.bmcPower.length === 0) return 'none yet';
  return s.bmcPower.map((c) => `${c.resetType} ${c.status >= 200 && c.status < 300 ? 'ok' : c.status} ${c.count}`).join(', ');
}

/** The storm guard's state, e.g. `paused (no-heartbeats) for 12s` or `not paused`. */
function formatPause(s: FleetSummary): string {
  if (!s.pause) return 'not paused';
  const forMs = s.pause.since ? Date.now() - s.pause.since.getTime() : undefined;
  return `paused (${s.pause.reason})${forMs === undefined ? '' : ` for ${Math.max(0, Math.round(forMs / 1000))}s`}`;
}

/** `--fault-server-outage`: `still to come`, `on, 18s left` or `over`; undefined without one. */
function formatOutage(s: FleetSummary): string | undefined {
  if (!s.outage) return undefined;
  if (s.outage.phase === 'on') return `on, ${Math.ceil(s.outage.msUntilOver / 1000)}s left`;
  return s.outage.phase === 'ahead' ? 'still to come' : 'over';
}

function waitingLine(s: FleetSummary, max: number): string {
  const w = s.convergence.waitingFor;
  const fleet = s.convergence.fleetWaits;
  if (w.length === 0 && fleet.length === 0) {
    return 'converged: every working machine heartbeats, every silent one was recovered, every failing one is backing off or quarantined';
  }
  const shown = w.slice(0, max).map((m) => `${m.providerId}${m.fault === 'none' ? '' : ` [${m.fault}]`}: ${m.reason}`);
  const machines = w.length === 0 ? [] : [`${w.length} machine${w.length === 1 ? '' : 's'} (${shown.join('; ')}${w.length > max ? '; …' : ''})`];
  return `converging: waiting for ${[...fleet, ...machines].join(' and ')}`;
}

/** The multi-line block for a terminal. */
export function renderSummaryBlock(s: FleetSummary, ctx: SummaryContext): string[] {
  const pad = (label: string, n: number) => `${label.padEnd(16)}${String(n).padStart(5)}`;
  const backoffs = s.inBackoff.map((b) => `${b.process} ${b.count}`).join(', ');
  const lines = [
    `bmaas dev: ${s.simulated} simulated machines, ${formatElapsed(ctx.elapsedMs)} elapsed`,
    ...ctx.links.map(([label, value]) => `  ${label.padEnd(14)}${value}`),
    '',
    `  ${pad('free capacity', s.freeCapacity)}    ${pad('provided', s.provided)}`,
    `  ${pad('agent started', s.agentStarted)}    ${pad('heartbeating', s.heartbeating)}`,
    `  ${pad('silent', s.silent)}    ${pad('starting agent', s.startingAgent)}`,
    `  ${pad('recovering', s.recovering)}    ${pad('rebooted', s.rebooted)}`,
    `  ${pad('in backoff', s.inBackoff.reduce((n, b) => n + b.count, 0))}    ${backoffs}`,
    ...s.topCauses.map((c) => `      ${c.count}× ${c.cause}`),
    `  ${pad('quarantined', s.quarantined)}    ${'storm guard'.padEnd(16)}${formatPause(s)}`,
    `  ${'BMC power'.padEnd(16)}${formatBmcPower(s)}`,
    ...(s.outage ? [`  ${'server outage'.padEnd(16)}${formatOutage(s)}`] : []),
    '',
    `  ${waitingLine(s, 3)}`,
  ];
  if (ctx.footer) lines.push(`  ${ctx.footer}`);
  return lines;
}

/** One line, for logs. */
export function renderSummaryLine(s: FleetSummary, ctx: { elapsedMs: number }): string {
  const backoff = s.inBackoff.reduce((n, b) => n + b.count, 0);
  const cause = s.topCauses[0] ? ` (top cause: ${s.topCauses[0].cause})` : '';
  return (
    `[bmaas dev ${formatElapsed(ctx.elapsedMs)}] machines ${s.simulated}: free ${s.freeCapacity}, provided ${s.provided}, ` +
    `agent started ${s.agentStarted}, heartbeating ${s.heartbeating}, silent ${s.silent}, in backoff ${backoff}${cause}, ` +
    `recovering ${s.recovering}, rebooted ${s.rebooted}, quarantined ${s.quarantined}, storm guard ${formatPause(s)}, BMC power: ${formatBmcPower(s)}` +
    `${s.outage ? `, server outage ${formatOutage(s)}` : ''}; ${waitingLine(s, 2)}`
  );
}

/** Writes summaries: redrawn in place on a TTY, appended as lines otherwise. */
export class LiveSummary {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  #drawnLines = 0;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
    this.#out = out;
  }

  get interactive(): boolean {
    return this.#out.isTTY === true;
  }

  show(s: FleetSummary, ctx: SummaryContext): void {
    if (!this.interactive) {
      this.#out.write(`${renderSummaryLine(s, ctx)}\n`);
      return;
    }
    const width = Math.max(40, (this.#out.columns || 100) - 1);
    // Long lines would wrap and break the cursor arithmetic, so cut them.
    const lines = renderSummaryBlock(s, ctx).map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    const up = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}F` : '';
    this.#out.write(`${up}\x1b[J${lines.join('\n')}\n`);
    this.#drawnLines = lines.length;
  }

  /** The final state, printed in full (not cut to the terminal width) and never redrawn. */
  final(s: FleetSummary, ctx: SummaryContext): void {
    if (this.interactive && this.#drawnLines > 0) this.#out.write(`\x1b[${this.#drawnLines}F\x1b[J`);
    this.#drawnLines = 0;
    this.#out.write(`${renderSummaryBlock(s, ctx).join('\n')}\n`);
  }
}
