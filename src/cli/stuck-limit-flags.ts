// --stuck-limit STATE=DURATION: how long a machine may stay in a derived state
// before it counts as stuck (docs/architecture.md#stuck-machines), for the
// commands that list stuck machines (`bmaas machines`, `bmaas webug`).
import { DEFAULT_STUCK_LIMITS, DERIVED_MACHINE_STATES, type DerivedMachineState, type StuckLimits } from '../bmdb/index.ts';
import { DurationSyntaxError, formatDuration, parseDuration } from '../lib/duration.ts';
import { UsageError, type FlagSpec, type ParsedFlags } from '../lib/flags.ts';

const defaults = DERIVED_MACHINE_STATES.map((s) => `${s}=${DEFAULT_STUCK_LIMITS[s] === null ? 'off' : formatDuration(DEFAULT_STUCK_LIMITS[s] * 1000)}`).join(', ');

export const STUCK_LIMIT_FLAG: FlagSpec = {
  name: 'stuck-limit',
  type: 'string',
  multiple: true,
  placeholder: 'STATE=DURATION',
  description: `a machine in STATE for longer than DURATION (or \`off\`: never) is stuck; repeatable (defaults: ${defaults})`,
};

export function stuckLimitsFromFlags(flags: ParsedFlags): StuckLimits {
  const limits: Record<DerivedMachineState, number | null> = { ...DEFAULT_STUCK_LIMITS };
  for (const item of flags.strings(STUCK_LIMIT_FLAG.name)) {
    const [state, value] = item.split('=', 2) as [string, string | undefined];
    if (!(DERIVED_MACHINE_STATES as readonly string[]).includes(state) || value === undefined) {
      throw new UsageError(`--stuck-limit ${item}: expected STATE=DURATION with STATE one of ${DERIVED_MACHINE_STATES.join(', ')}`);
    }
    if (value === 'off') {
      limits[state as DerivedMachineState] = null;
      continue;
    }
    try {
      limits[state as DerivedMachineState] = parseDuration(value, { minMs: 1000, maxMs: 365 * 24 * 3600_000 }) / 1000;
    } catch (err) {
      if (err instanceof DurationSyntaxError) throw new UsageError(`--stuck-limit ${item}: ${err.message}`);
      throw err;
    }
  }
  return limits;
}
