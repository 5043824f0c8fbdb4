// Public surface of the control loop runner.
export type { ControlLoop, Task } from './control-loop.ts';
export { ControlLoopRunner } from './runner.ts';
export type { ControlLoopRunnerOptions, RunnerState } from './runner.ts';
export { describeError, ShutdownGraceExpiredError } from './errors.ts';
export { parseRate, TokenBucket } from '../lib/rate.ts';
export type { RateLimit } from '../lib/rate.ts';
