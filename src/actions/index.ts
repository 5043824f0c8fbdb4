// Operator actions over the BMDB (README.md#operating-a-fleet): one
// implementation that the CLI (`bmaas machines <action>`) and webug's HTTP API
// share. Each action is one transaction, refuses when it does not apply, and
// leaves an entry in the audit trail.
export { ACTIONS, ACTION_NAMES, type ActionDefinition, type ActionArgumentSpec } from './action-table.ts';
export { runAction, type ActionRequest, type ActionOutcome, type RunActionOptions } from './run-action.ts';
export { resolveMachine, resolveMachineIn } from './resolve.ts';
export { UnknownMachineError, AmbiguousMachineError, UnknownActionError, ActionArgumentError, ActionRefusedError } from './errors.ts';
