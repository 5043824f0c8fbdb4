// Error classes of the BMDB library. Each says when it is thrown; callers
// branch on them with `instanceof` (never on messages).

/**
 * Thrown by every session call once the session's deadline has passed (or the
 * session row was collected or closed). The session is gone for good: start a
 * new one.
 */
export class SessionExpiredError extends Error {
  override name = 'SessionExpiredError';
  constructor(message = 'BMDB session expired', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Thrown by `Session.work` when the machine picked by the retrieval function
 * is already locked for this process by another session (a lost race).
 * Harmless: try again.
 */
export class WorkConflictError extends Error {
  override name = 'WorkConflictError';
}

/**
 * A WorkConflictError for the case where the machine was worked on and
 * released between retrieval and claim, so retrieval saw a stale state.
 */
export class StaleClaimError extends WorkConflictError {
  override name = 'StaleClaimError';
}

/** Thrown by a retrieval function (and `Session.work`) when there is no candidate. */
export class NothingToDoError extends Error {
  override name = 'NothingToDoError';
  constructor(message = 'nothing to do', options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Thrown by `Work.finish` and `Work.fail` when this session no longer holds the
 * work row (it was collected or removed). Nothing was written.
 */
export class WorkLostError extends Error {
  override name = 'WorkLostError';
}

/** Thrown when a `Work` is used after it was already finished, failed or canceled. */
export class WorkClosedError extends Error {
  override name = 'WorkClosedError';
}

/** Thrown for a malformed `--bmdb-url` or invalid BMDB options. */
export class BmdbConfigError extends Error {
  override name = 'BmdbConfigError';
}

/**
 * Thrown by the PostgreSQL driver when taking a connection found no host of a
 * multi-host --bmdb-url usable: each one refused the connection or was not what
 * target_session_attrs asks for (for example during a failover, before the
 * standby is promoted). Transient: the next transaction tries the hosts again.
 */
export class NoSuitableHostError extends Error {
  override name = 'NoSuitableHostError';
}

/** Thrown by migrations: a failed step, or a database newer than we can go down from. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The SQLSTATE of a database error, if it carries one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
