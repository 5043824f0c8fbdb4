// Errors of the BMC layer. Messages name the endpoint and what went wrong,
// never a credential.

/** Base class: any BMC operation that failed. */
export class BmcError extends Error {
  override name = 'BmcError';
}

/** Thrown when a BMC answers with an HTTP status that is no success (after retries, for retryable ones). */
export class BmcHttpError extends BmcError {
  override name = 'BmcHttpError';
  readonly status: number;
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** Thrown when the BMC refuses the credentials (401, or a session login that failed). */
export class BmcAuthError extends BmcError {
  override name = 'BmcAuthError';
}

/** Thrown when the BMC cannot be reached, times out, or its TLS identity is refused. */
export class BmcConnectionError extends BmcError {
  override name = 'BmcConnectionError';
}

/** Thrown when the configured system is not found, or none is configured and the BMC has not exactly one. */
export class BmcSystemSelectionError extends BmcError {
  override name = 'BmcSystemSelectionError';
}

/** Thrown when a reset type is asked for that the BMC does not list as allowed. */
export class ResetTypeNotAllowedError extends BmcError {
  override name = 'ResetTypeNotAllowedError';
}

/** Thrown when a BMC answer does not have the shape the protocol promises. */
export class BmcProtocolError extends BmcError {
  override name = 'BmcProtocolError';
}

/** Thrown by checked power actions when the power state could not be read or was Unknown; nothing was done. */
export class PowerStateUnreadableError extends BmcError {
  override name = 'PowerStateUnreadableError';
}

/** Thrown by checked power actions when the BMC did not show the action's effect in time. */
export class PowerActionNotConfirmedError extends BmcError {
  override name = 'PowerActionNotConfirmedError';
  /** The power states observed while waiting, in order (repeats collapsed). */
  readonly observed: readonly string[];
  constructor(message: string, observed: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.observed = observed;
  }
}
