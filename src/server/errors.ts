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
  constructor(reason: string) {
    super('agent authentication failed');
    this.reason = reason;
  }
}

/** A request field is malformed (e.g. a machine id that is not a UUID). */
export class InvalidHeartbeatError extends Error {
  override readonly name = 'InvalidHeartbeatError';
}
