// The escalation ladder of a BMC reboot: the attempt number (recoveries of
// the machine without a heartbeat in between) picks ever harder steps.
import { checkedPowerCycle, checkedRestart, type BmcDriver, type CheckedPowerOptions, type PowerActionResult } from '../../bmc/index.ts';

export type RebootStep = 'GracefulRestart' | 'ForceRestart' | 'PowerCycle';

/** 0 → GracefulRestart, 1 → ForceRestart, 2 and more → a power cycle (ForceOff, wait for Off, On). */
export function rebootStep(attempt: number): RebootStep {
  if (attempt <= 0) return 'GracefulRestart';
  return attempt === 1 ? 'ForceRestart' : 'PowerCycle';
}

/** Runs the step for `attempt`, checked: resolves once the BMC showed the effect. */
export function rebootThroughBmc(driver: BmcDriver, attempt: number, opts: CheckedPowerOptions = {}): Promise<PowerActionResult> {
  const step = rebootStep(attempt);
  return step === 'PowerCycle' ? checkedPowerCycle(driver, opts) : checkedRestart(driver, step, opts);
}
