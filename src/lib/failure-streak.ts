// Logging for a loop that keeps failing the same way (the database is down, the
// network is gone): the first failure of a streak at error, the rest at debug
// with their running count, and one info line when the loop succeeds again. An
// outage then reads as two lines in the log, however often the loop retried.
// Given `quiet`, failures it accepts (say a database outage another reporter
// already logged once for the whole process) stay at debug, and a streak made
// only of them ends without a line.
import type { Logger } from 'pino';

export class FailureStreak {
  readonly #log: Logger;
  readonly #what: string;
  readonly #quiet: (err: unknown) => boolean;
  #failures = 0;
  // Whether this streak logged its failure at error (its first failure that was not quiet).
  #loud = false;

  /** `what` names the action in the messages, e.g. `claim a machine`; `quiet` picks failures that are someone else's to report. */
  constructor(log: Logger, what: string, opts: { quiet?: (err: unknown) => boolean } = {}) {
    this.#log = log;
    this.#what = what;
    this.#quiet = opts.quiet ?? (() => false);
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure: logged at error when it is the streak's first that is not quiet, at debug otherwise. */
  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    this.#failures++;
    if (!this.#loud && !this.#quiet(err)) {
      this.#loud = true;
      this.#log.error({ err, ...fields }, `could not ${this.#what}; retrying (further failures are logged at debug until it works again)`);
    } else this.#log.debug({ err, failures: this.#failures, ...fields }, `could not ${this.#what}`);
  }

  /** Records a success; ends a streak with one info line (at debug when every failure was quiet). */
  succeeded(fields: Record<string, unknown> = {}): void {
    if (this.#failures === 0) return;
    if (this.#loud) this.#log.info({ failures: this.#failures, ...fields }, `${this.#what}: working again after failures`);
    else this.#log.debug({ failures: this.#failures, ...fields }, `${this.#what}: working again after failures`);
    this.#failures = 0;
    this.#loud = false;
  }
}
