// Power actions that are checked on both ends: never act on a state that could
// not be read, and never call an action done before the BMC shows its effect.
//
// When is a restart (GracefulRestart, ForceRestart, PowerCycle) confirmed? BMCs
// accept a reset at once and apply it later, often seconds later, and a warm
// reset may never show power going off. So a 2xx answer alone proves nothing.
// It counts as done, with the BMC reporting On again, once either
//   - the state was seen leaving On (Off, PoweringOff or PoweringOn) after the
//     request, or
//   - the BMC's LastResetTime (Redfish) changed from its value before the request.
// Anything else within the time bound fails with the states seen as its cause.
// A restart of a machine that is Off is an `On` (the goal, a running machine, is
// the same); a machine in transition (PoweringOn/Off) is left alone.
import { sleep } from '../../lib/index.ts';
import { BmcError, PowerActionNotConfirmedError, PowerStateUnreadableError } from './errors.ts';
import type { BmcDriver, PowerReading, PowerState, ResetType } from './types.ts';

export const CHECKED_POWER_DEFAULTS = Object.freeze({ pollIntervalMs: 2_000, confirmTimeoutMs: 5 * 60_000 });

export interface CheckedPowerOptions {
  readonly signal?: AbortSignal;
  /** Between two power state reads while waiting. Default 2 s. */
  readonly pollIntervalMs?: number;
  /** How long each wait for an effect may take. Default 5 min. */
  readonly confirmTimeoutMs?: number;
}

export interface PowerActionResult {
  /** The reset types issued, in order. */
  readonly issued: readonly ResetType[];
  /** Power states read from first to last, repeats collapsed (`error: …` for a failed read while waiting). */
  readonly observed: readonly string[];
  readonly durationMs: number;
}

/** Thrown instead of acting when the machine is between two power states. */
export class PowerStateInTransitionError extends BmcError {
  override name = 'PowerStateInTransitionError';
}

export type RestartType = 'GracefulRestart' | 'ForceRestart' | 'PowerCycle';

/** Restarts the machine with `type` and waits until the BMC shows the restart (see the file comment). */
export async function checkedRestart(driver: BmcDriver, type: RestartType, opts: CheckedPowerOptions = {}): Promise<PowerActionResult> {
  const run = new PowerRun(driver, opts);
  const before = await run.readFirst();
  if (before.state === 'Off') {
    await run.issue('On');
    await run.waitFor('On', () => true);
    return run.result();
  }
  await run.issue(type);
  let left = false;
  await run.waitFor('On', (reading) => {
    if (reading.state !== 'On') left = true;
    return left || (reading.lastReset !== undefined && reading.lastReset !== before.lastReset);
  });
  return run.result();
}

/** ForceOff, wait for Off, On, wait for On (a machine already Off is only powered on). */
export async function checkedPowerCycle(driver: BmcDriver, opts: CheckedPowerOptions = {}): Promise<PowerActionResult> {
  const run = new PowerRun(driver, opts);
  const before = await run.readFirst();
  if (before.state === 'On') {
    await run.issue('ForceOff');
    await run.waitFor('Off', () => true);
  }
  await run.issue('On');
  await run.waitFor('On', () => true);
  return run.result();
}

/** One checked action: the readings so far and the clock. */
class PowerRun {
  readonly #driver: BmcDriver;
  readonly #signal: AbortSignal | undefined;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #started = Date.now();
  readonly #issued: ResetType[] = [];
  readonly #observed: string[] = [];

  constructor(driver: BmcDriver, opts: CheckedPowerOptions) {
    this.#driver = driver;
    this.#signal = opts.signal;
    this.#pollMs = opts.pollIntervalMs ?? CHECKED_POWER_DEFAULTS.pollIntervalMs;
    this.#timeoutMs = opts.confirmTimeoutMs ?? CHECKED_POWER_DEFAULTS.confirmTimeoutMs;
  }

  /** The state before acting: unreadable, Unknown or in transition means no action at all. */
  async readFirst(): Promise<PowerReading> {
    let reading: PowerReading;
    try {
      reading = await this.#driver.powerState({ signal: this.#signal });
    } catch (err) {
      throw new PowerStateUnreadableError(`not acting: the power state of ${this.#driver.endpoint} could not be read: ${(err as Error).message}`, { cause: err });
    }
    this.#note(reading.state);
    if (reading.state === 'Unknown') throw new PowerStateUnreadableError(`not acting: BMC ${this.#driver.endpoint} reports the power state as unknown (${JSON.stringify(reading.raw)})`);
    if (reading.state === 'PoweringOn' || reading.state === 'PoweringOff') throw new PowerStateInTransitionError(`not acting: ${this.#driver.endpoint} is ${reading.state}`);
    return reading;
  }

  async issue(type: ResetType): Promise<void> {
    await this.#driver.reset(type, { signal: this.#signal });
    this.#issued.push(type);
  }

  /** Polls until the state is `target` and `evidence` (seeing every reading since the request) holds. */
  async waitFor(target: PowerState, evidence: (reading: PowerReading) => boolean): Promise<void> {
    const deadline = Date.now() + this.#timeoutMs;
    let proven = false;
    for (;;) {
      await sleep(Math.min(this.#pollMs, Math.max(deadline - Date.now(), 0)), this.#signal);
      this.#signal?.throwIfAborted();
      try {
        const reading = await this.#driver.powerState({ signal: this.#signal });
        this.#note(reading.state);
        proven = evidence(reading) || proven;
        if (proven && reading.state === target) return;
      } catch (err) {
        if (this.#signal?.aborted) throw err;
        this.#note(`error: ${(err as Error).message}`);
      }
      if (Date.now() >= deadline) {
        const what = this.#issued.at(-1);
        throw new PowerActionNotConfirmedError(
          `${what} on ${this.#driver.endpoint} not confirmed within ${this.#timeoutMs} ms: waited for ${target}${proven ? '' : ' after a visible reset'}, observed ${this.#observed.join(' → ')}`,
          [...this.#observed],
        );
      }
    }
  }

  result(): PowerActionResult {
    return { issued: [...this.#issued], observed: [...this.#observed], durationMs: Date.now() - this.#started };
  }

  #note(state: string): void {
    if (this.#observed.at(-1) !== state) this.#observed.push(state);
  }
}
