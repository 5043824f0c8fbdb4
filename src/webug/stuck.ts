// A machine's derived state as webug and the CLI show it: the state, since
// when, its limit, and, when it is past the limit, why it counts as stuck
// (docs/architecture.md#stuck-machines).
import type { DerivedMachineState, MachineStateRow } from '../bmdb/index.ts';
import { formatDuration } from '../lib/duration.ts';

export interface MachineStateView {
  readonly state: DerivedMachineState;
  readonly since: Date;
  /** Null: this state has no limit (never stuck in it). */
  readonly limitSeconds: number | null;
  readonly stuck: boolean;
  /** Why it is stuck, in an operator's words; null when it is not. */
  readonly stuckReason: string | null;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Whole seconds, so "2h" rather than "2h0m13s412ms" for a limit and "3h12m" for a stay. */
const roughly = (ms: number) => formatDuration(ms >= 3600_000 ? Math.floor(ms / 60_000) * 60_000 : Math.floor(ms / 1000) * 1000) || '0s';

export function stateView(row: MachineStateRow, now = Date.now()): MachineStateView {
  const stuckReason =
    row.stuck && row.limitSeconds !== null
      ? `stuck: ${row.state} since ${iso(row.since)} (${roughly(now - row.since.getTime())}), longer than the ${row.state} limit of ${roughly(row.limitSeconds * 1000)}`
      : null;
  return { state: row.state, since: row.since, limitSeconds: row.limitSeconds, stuck: row.stuck, stuckReason };
}
