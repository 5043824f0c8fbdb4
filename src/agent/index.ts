// The agent: takeover mode and the heartbeat daemon.
export { takeover, readBounded, takeoverErrorResponse, encodeResponse, TakeoverError, MAX_TAKEOVER_INIT_BYTES, type TakeoverOptions } from './takeover.ts';
export { readAgentState, writeAgentState, AgentStateError, DEFAULT_STATE_DIR, STATE_FILE, type AgentState } from './agent-state.ts';
export { generateAgentKey, rawPublicKey, clientCertificate, privateKeyFromPem, privateKeyToPem } from './agent-identity.ts';
export { createCallbackClient, endpointUrl, type CallbackClient, type CallbackClientOptions } from './callback-client.ts';
export { runHeartbeatLoop, retryDelayMs, type HeartbeatLoopOptions } from './heartbeat-loop.ts';
export { HEARTBEAT_BOUNDS, HEARTBEAT_DEFAULTS, resolveHeartbeatTiming, type HeartbeatTiming } from './heartbeat-options.ts';
export { runDaemon, PID_FILE, type DaemonOptions } from './daemon.ts';
export { AGENT_FLAGS, takeoverCommand, runCommand, type AgentIo } from './agent-cli.ts';
export * from './installers/index.ts';
export { BlockDeviceProtocol, EfiSupport, gatherHardwareReport, type HardwareReport, type NodeReport, type BlockDeviceReport } from './hardware/index.ts';
