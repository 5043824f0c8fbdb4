// Which simulated machines misbehave, and how. The plan is a pure function of
// the fleet size, the fractions and a seed, so a restart of `bmaas dev` with
// the same flags gives every machine the same fault again.

/** What a simulated machine does wrong; `none` is a healthy machine. */
// New kinds go last: the plan hands out machines in this order, so a seed keeps
// giving the same machines the faults that existed before.
export const FAULT_KINDS = ['takeover', 'silent', 'unreachable', 'slowSsh', 'dead'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type Fault = FaultKind | 'none';

/** Share of the fleet (0..1) given each fault; together at most 1. */
export type FaultFractions = Readonly<Record<FaultKind, number>>;

export const NO_FAULTS: FaultFractions = Object.freeze({ takeover: 0, silent: 0, unreachable: 0, slowSsh: 0, dead: 0 });

/** What each fault means, for help texts and summaries. */
export const FAULT_DESCRIPTIONS: Readonly<Record<FaultKind, string>> = Object.freeze({
  takeover: 'the agent fails its takeover (the initializer backs off and retries)',
  silent: 'the agent heartbeats for a while, then goes silent until the machine is rebooted',
  unreachable: 'SSH accepts TCP but never answers (the initializer times out and backs off)',
  slowSsh: 'SSH answers slowly, but the takeover succeeds',
  dead: 'goes silent like `silent`, and never powers on again after its first BMC reset (the recoverer escalates, then quarantines it)',
});

export class FaultPlanError extends Error {
  override name = 'FaultPlanError';
}

/** Checks the fractions: each a number in 0..1 and their sum at most 1. */
export function validateFaultFractions(f: FaultFractions): void {
  let sum = 0;
  for (const kind of FAULT_KINDS) {
    const v = f[kind];
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new FaultPlanError(`fault fraction ${kind} must be between 0 and 1, got ${v}`);
    sum += v;
  }
  if (sum > 1 + 1e-9) throw new FaultPlanError(`fault fractions add up to ${sum.toFixed(2)}; at most 1 (every machine has at most one fault)`);
}

/**
 * One fault per machine index. Each kind gets round(fraction × count)
 * machines (so 20 machines at 0.1 gives exactly two), spread over the fleet
 * by a seeded shuffle rather than clumped at the start.
 */
export function planFaults(count: number, fractions: FaultFractions, seed: number): Fault[] {
  validateFaultFractions(fractions);
  const plan: Fault[] = new Array<Fault>(count).fill('none');
  const order = shuffledIndices(count, seed);
  let next = 0;
  for (const kind of FAULT_KINDS) {
    const n = Math.min(Math.round(fractions[kind] * count), count - next);
    for (let i = 0; i < n; i++) plan[order[next++]!] = kind;
  }
  return plan;
}

function shuffledIndices(count: number, seed: number): number[] {
  const random = mulberry32(seed);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** A small seeded PRNG (public domain "mulberry32"): the same seed, the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
