// Domain errors of the agent callback server. They are turned into gRPC codes
// only at the edge (agent-callback-service.ts).

/**
 * The caller is not a known agent: no client certificate, not exactly one,
 * not Ed25519, or no AgentStarted tag matching (machine id, key). `reason` is
 * for the server's log only; the agent always sees the same message.
 */
export class AgentAuthenticationError extends Error {
  override readonly name = 'AgentAuthenticationError';
  readonly reason: string;
  /**
   * The machine is being taken over right now: a new agent's first heartbeat
   * can arrive before the initializer has recorded its key. Expected, so it
   * is logged quietly; the agent retries.
   */
  readonly takeoverInProgress: boolean;
  constructor(reason: string, opts: { takeoverInProgress?: boolean } = {}) {
    super('agent authentication failed');
    this.reason = reason;
    this.takeoverInProgress = opts.takeoverInProgress ?? false;
  }
}

/** A request field is malformed (e.g. a machine id that is not a UUID). */
export class InvalidHeartbeatError extends Error {
  override readonly name = 'InvalidHeartbeatError';
}

/** A heartbeat was handed to the batcher after the server began shutting down. */
export class HeartbeatBatcherClosedError extends Error {
  override readonly name = 'HeartbeatBatcherClosedError';
  constructor() {
    super('the server is shutting down');
  }
}
