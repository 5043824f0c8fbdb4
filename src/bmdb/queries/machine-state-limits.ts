// The derived machine states and how long a machine may stay in each before
// it counts as stuck (docs/architecture.md#stuck-machines). The SQL that
// derives them is in machine-state.ts.

export const DERIVED_MACHINE_STATES = Object.freeze([
  'awaiting-agent-start',
  'starting-agent',
  'heartbeating',
  'silent',
  'recovering',
  'backing-off',
  'quarantined',
  'paused',
] as const);

export type DerivedMachineState = (typeof DERIVED_MACHINE_STATES)[number];

/** Seconds a machine may stay in each state before it counts as stuck; null: never stuck. */
export type StuckLimits = Readonly<Record<DerivedMachineState, number | null>>;

export const DEFAULT_STUCK_LIMITS: StuckLimits = Object.freeze({
  'awaiting-agent-start': 3600,
  'starting-agent': 3600,
  heartbeating: null,
  silent: 2 * 3600,
  recovering: 3600,
  'backing-off': 24 * 3600,
  // Quarantine is already an operator's matter; it is listed by itself.
  quarantined: null,
  paused: 3600,
});
