// One report per database outage, however many loops, sessions and pooled
// connections notice it. The driver tells it about every call: a failure that
// says the database cannot be reached starts an outage (one error line), the
// next call that succeeds ends it (one info line with its length). Everything
// else that fails meanwhile for the same reason asks `covers(err)` and logs
// at debug, so an outage reads as two lines per process rather than one per
// loop, session and retry.
import type { Logger } from 'pino';
import { NoSuitableHostError, SessionExpiredError, sqlState } from './errors.ts';

// Network errors of a connection that could not be made or was lost.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
// node-postgres says these in words only.
const DRIVER_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Query read timeout$/, /is not queryable/, /^Client was closed and is not queryable/];

/**
 * True when `err` (or an error it wraps) means the database could not be
 * reached or stopped answering: a refused or lost connection, a timeout, a
 * server shutting down or starting up (SQLSTATE class 08, 57P01-57P03), a
 * host turned read-only by a failover (25006), no usable host in the list.
 */
export function isDatabaseUnreachable(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  if (err instanceof NoSuitableHostError) return true;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (e.name === 'TimeoutError') return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const state = sqlState(err);
  if (state !== undefined && (state.startsWith('08') || ['57P01', '57P02', '57P03', '25006'].includes(state))) return true;
  if (typeof e.message === 'string' && DRIVER_MESSAGES.some((re) => re.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnreachable(x, depth + 1))) return true;
  return isDatabaseUnreachable(e.cause, depth + 1);
}

export class DatabaseOutage {
  readonly #log: Logger;
  #since = 0;
  #failures = 0;
  #endedAt = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** True between the first failure of an outage and the next success. */
  get active(): boolean {
    return this.#since !== 0;
  }

  /** A call failed: when `err` says the database is unreachable, counts it (the first starts the outage, logged once). */
  failed(err: unknown): void {
    if (!isDatabaseUnreachable(err)) return;
    this.#failures++;
    if (this.#since !== 0) return;
    this.#since = Date.now();
    this.#log.error({ err }, 'the database is unreachable; every part of this process retries by itself (failures are logged at debug until it answers again)');
  }

  /** A call succeeded: ends an outage with one line. */
  succeeded(): void {
    if (this.#since === 0) return;
    this.#log.info({ outageMs: Date.now() - this.#since, failedCalls: this.#failures }, 'the database answers again');
    this.#since = 0;
    this.#failures = 0;
    this.#endedAt = Date.now();
  }

  /**
   * True during an outage and for `graceMs` after it ended. A session whose
   * deadline passed while nobody could reach the database learns it only at
   * its first extension after the outage, so an expiry found then was caused
   * by the outage already reported (pass about two session intervals).
   */
  accountsForSessionLoss(graceMs: number): boolean {
    return this.active || (this.#endedAt !== 0 && Date.now() - this.#endedAt < graceMs);
  }

  /** True when the outage accounts for `err` (the database unreachable, or a session lost while it was), so its logger may stay quiet. */
  covers(err: unknown): boolean {
    return isDatabaseUnreachable(err) || (this.active && err instanceof SessionExpiredError);
  }
}
