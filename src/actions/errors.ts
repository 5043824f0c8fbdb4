// The action layer's errors. Edges map them: the CLI to exit codes, the HTTP
// API to statuses (src/webug/actions-api.ts).

/** Thrown when a selector or a machine id names no machine in the BMDB. */
export class UnknownMachineError extends Error {
  override name = 'UnknownMachineError';
  readonly selector: string;
  constructor(selector: string) {
    super(`no machine matches ${JSON.stringify(selector)}`);
    this.selector = selector;
  }
}

/** Thrown when a selector meant to name one machine matches several. */
export class AmbiguousMachineError extends Error {
  override name = 'AmbiguousMachineError';
  constructor(selector: string, matches: readonly string[]) {
    super(`${JSON.stringify(selector)} matches ${matches.length === 1 ? 'one machine' : `${matches.length}${matches.length >= 10 ? ' or more' : ''} machines`} (${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', …' : ''}); give more of the id`);
  }
}

/** Thrown for an action name that is not in the action table. */
export class UnknownActionError extends Error {
  override name = 'UnknownActionError';
  constructor(action: string, known: readonly string[]) {
    super(`unknown action ${JSON.stringify(action)}; known: ${known.join(', ')}`);
  }
}

/** Thrown when an action's arguments, the actor or the reason are malformed. */
export class ActionArgumentError extends Error {
  override name = 'ActionArgumentError';
}

/**
 * Thrown when an action does not apply to the machine in its current state
 * (reinit on a machine with no agent, decommission while work is held, …).
 * Nothing was changed and nothing was audited.
 */
export class ActionRefusedError extends Error {
  override name = 'ActionRefusedError';
  readonly action: string;
  readonly machineId: string;
  constructor(action: string, machineId: string, why: string) {
    super(`${action} refused for machine ${machineId}: ${why}`);
    this.action = action;
    this.machineId = machineId;
  }
}
