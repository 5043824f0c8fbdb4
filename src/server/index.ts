// The agent callback server ("bmsrv").
export { AgentCallbackServer, type AgentCallbackServerOptions, type ServerState } from './agent-callback-server.ts';
export { heartbeatMethod, grpcCodeName } from './agent-callback-service.ts';
export { recordHeartbeat, parseMachineId, type HeartbeatInput, type HeartbeatOutcome, type HeartbeatStore } from './heartbeat.ts';
export { HeartbeatBatcher, type HeartbeatBatcherOptions } from './heartbeat-batcher.ts';
export { peerIdentityOf, agentPublicKey, type PeerIdentity } from './peer-identity.ts';
export { ensureDevCertificates, DEFAULT_DEV_CERTS_DIR, type DevCertificates } from './dev-certs.ts';
export { AgentAuthenticationError, HeartbeatBatcherClosedError, InvalidHeartbeatError } from './errors.ts';
export { CALLBACK_SERVER_BOUNDS, CALLBACK_SERVER_DEFAULTS, resolveCallTimeoutMs, resolveShutdownGraceMs } from './server-options.ts';
