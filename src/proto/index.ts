// Public surface of the wire contract (docs/architecture.md#wire-contract). Everything under
// gen/ is produced by `npm run gen` from proto/ and must not be edited.
//
// From proto/cloud/agent/api/takeover.proto (package cloud.agent.api):
//   TakeoverInit, TakeoverSuccess, TakeoverError, TakeoverResponse.
// From proto/cloud/agent/api/hwreport.proto (package cloud.agent.api):
//   Node, CPU, CPU_X86_64, BlockDevice, BlockDevice_Protocol, NetworkInterface, EFISupport.
// From proto/cloud/bmaas/server/api/agent.proto (package cloud.bmaas.server.api):
//   AgentCallback (service), AgentHardwareReport, OSInstallationReport (+ _Success, _Error),
//   AgentHeartbeatRequest, OSInstallationProgress (+ _Stage), MetropolisInstallationRequest,
//   ImageInstallationRequest, OSInstallationRequest, AgentHeartbeatResponse.
// From ./codec.ts (ours): encode/decode helpers for the takeover exchange.
import { AgentCallback } from './gen/cloud/bmaas/server/api/agent_pb.ts';

export {
  file_cloud_agent_api_takeover,
  TakeoverInitSchema,
  TakeoverSuccessSchema,
  TakeoverErrorSchema,
  TakeoverResponseSchema,
} from './gen/cloud/agent/api/takeover_pb.ts';
export type {
  TakeoverInit,
  TakeoverSuccess,
  TakeoverError,
  TakeoverResponse,
} from './gen/cloud/agent/api/takeover_pb.ts';

export {
  file_cloud_agent_api_hwreport,
  NodeSchema,
  CPUSchema,
  CPU_X86_64Schema,
  BlockDeviceSchema,
  BlockDevice_Protocol,
  BlockDevice_ProtocolSchema,
  NetworkInterfaceSchema,
  EFISupport,
  EFISupportSchema,
} from './gen/cloud/agent/api/hwreport_pb.ts';
export type {
  Node,
  CPU,
  CPU_X86_64,
  BlockDevice,
  NetworkInterface,
} from './gen/cloud/agent/api/hwreport_pb.ts';

export {
  file_cloud_bmaas_server_api_agent,
  AgentCallback,
  AgentHardwareReportSchema,
  OSInstallationReportSchema,
  OSInstallationReport_SuccessSchema,
  OSInstallationReport_ErrorSchema,
  AgentHeartbeatRequestSchema,
  OSInstallationProgressSchema,
  OSInstallationProgress_Stage,
  MetropolisInstallationRequestSchema,
  ImageInstallationRequestSchema,
  OSInstallationRequestSchema,
  AgentHeartbeatResponseSchema,
} from './gen/cloud/bmaas/server/api/agent_pb.ts';
export type {
  AgentHardwareReport,
  OSInstallationReport,
  OSInstallationReport_Success,
  OSInstallationReport_Error,
  AgentHeartbeatRequest,
  OSInstallationProgress,
  MetropolisInstallationRequest,
  ImageInstallationRequest,
  OSInstallationRequest,
  AgentHeartbeatResponse,
} from './gen/cloud/bmaas/server/api/agent_pb.ts';

export {
  WireDecodeError,
  encodeMessage,
  decodeMessage,
  encodeTakeoverInit,
  decodeTakeoverInit,
  encodeTakeoverResponse,
  decodeTakeoverResponse,
} from './codec.ts';

/** gRPC path of AgentCallback.Heartbeat, as HTTP/2 `:path`: `/cloud.bmaas.server.api.AgentCallback/Heartbeat`. */
export const heartbeatMethodPath = `/${AgentCallback.typeName}/${AgentCallback.method.heartbeat.name}`;
