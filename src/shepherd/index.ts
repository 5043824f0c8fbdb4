// Public surface of the shepherd: provider contract, provisioner, initializer,
// recoverer and the composition the CLI runs. The SSH layer is in ./ssh/ and
// providers are in ./providers/<name>/.
export {
  Availability,
  canRecover,
  INVALID_PROVIDER_ID,
  ProviderMachineNotFoundError,
  ProviderOperationNotSupportedError,
} from './provider.ts';
export type {
  CreateMachineRequest,
  Provider,
  ProviderCallOptions,
  ProviderMachine,
  ProviderType,
  RebootOptions,
  RecovererProvider,
} from './provider.ts';
export { planReconcile, PROVISIONER_DEFAULTS, Provisioner, resolveAvailability } from './provisioner.ts';
export type { ProvisionerOptions, ReconcilePlan, ReconcileResult } from './provisioner.ts';
export { Initializer, INITIALIZER_BACKOFF, INITIALIZER_DEFAULTS } from './initializer.ts';
export type { InitializerOptions } from './initializer.ts';
export { Recoverer, RECOVERER_BACKOFF, RECOVERER_MAX_ATTEMPTS, type RecoveryCandidate } from './recoverer.ts';
export type { RecovererOptions } from './recoverer.ts';
export { StormGuard, STORM_GUARD_DEFAULTS, judgeFleet, rebootCap, type StormGuardOptions, type PauseReason, type Verdict } from './storm-guard.ts';
export { HostKeyChangedError, trustOnFirstUse } from './host-key-trust.ts';
export { checkTakeoverResponse, runTakeover, shellQuote, TakeoverFailedError } from './takeover.ts';
export type { TakeoverInitFields, TakeoverResult } from './takeover.ts';
export { runShepherd } from './shepherd.ts';
export { checkShepherdOptions, DEFAULT_DB_QUERY_RATE, SHEPHERD_BOUNDS, SHEPHERD_DEFAULTS, ShepherdOptionsError, type CountBounds } from './shepherd-options.ts';
export type { LoopSettings, ShepherdOptions } from './shepherd.ts';
export { AgentExecutableError, BUILT_AGENT_PATH, resolveAgentExecutable } from './agent-executable.ts';
export * from './bmc/index.ts';
