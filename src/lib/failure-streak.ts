// Logging for a loop that keeps failing the same way (the database is down, the
// network is gone): the first failure of a streak at error, the rest at debug
// with their running count, and one info line when the loop succeeds again. An
// outage then reads as two lines in the log, however often the loop retried.
import type { Logger } from 'pino';

export class FailureStreak {
  readonly #log: Logger;
  readonly #what: string;
  #failures = 0;

  /** `what` names the action in the messages, e.g. `claim a machine`. */
  constructor(log: Logger, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure: logged at error when it starts a streak, at debug otherwise. */
  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    this.#failures++;
    if (this.#failures === 1) this.#log.error({ err, ...fields }, `could not ${this.#what}; retrying (further failures are logged at debug until it works again)`);
    else this.#log.debug({ err, failures: this.#failures, ...fields }, `could not ${this.#what}`);
  }

  /** Records a success; ends a streak with one info line. */
  succeeded(fields: Record<string, unknown> = {}): void {
    if (this.#failures === 0) return;
    this.#log.info({ failures: this.#failures, ...fields }, `${this.#what}: working again after failures`);
    this.#failures = 0;
  }
}
