// Errors of the control loop runner and a helper that turns any error into a
// work-history cause.

/** The reason a task's signal aborts when the shutdown grace period ran out. */
export class ShutdownGraceExpiredError extends Error {
  override name = 'ShutdownGraceExpiredError';
  constructor(graceMs: number) {
    super(`shutdown grace of ${graceMs} ms ran out; in-flight work is canceled`);
  }
}

/**
 * One line for a work-history cause: the error's message followed by the
 * messages of its `cause` chain (where the detail usually is), without repeats.
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message !== '' && !parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}
