// The gRPC edge: AgentCallback.Heartbeat. Domain errors become gRPC status
// codes here and nowhere else.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { SessionExpiredError, type Bmdb } from '../bmdb/index.ts';
import { AgentHeartbeatRequestSchema, AgentHeartbeatResponseSchema, heartbeatMethodPath, type AgentHeartbeatRequest } from '../proto/index.ts';
import { WireDecodeError } from '../proto/index.ts';
import { AgentAuthenticationError, HeartbeatBatcherClosedError, InvalidHeartbeatError } from './errors.ts';
import { recordHeartbeat, type HeartbeatStore } from './heartbeat.ts';
import type { HeartbeatRefusal, ServerMetrics } from './metrics.ts';
import { agentPublicKey, type PeerIdentity } from './peer-identity.ts';
import { CallDeadlineError, type UnaryCall, type UnaryMethod } from './grpc-unary-endpoint.ts';

export interface AgentCallbackServiceOptions {
  /** Where heartbeats are written (per call, plain ones batched when it has a batcher). */
  readonly store: HeartbeatStore;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** The TLS identity of the connection a call came on (read once per connection). */
  readonly peerOf: (call: UnaryCall) => PeerIdentity;
  /** The process's outage reporter: a call the database being unreachable failed is logged at debug (the outage itself once). */
  readonly outage?: Pick<Bmdb['outage'], 'covers'> | undefined;
}

function toConnectError(err: unknown, signal: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof AgentAuthenticationError) return new ConnectError(err.message, Code.Unauthenticated);
  if (err instanceof InvalidHeartbeatError) return new ConnectError(err.message, Code.InvalidArgument);
  if (signal.aborted && signal.reason instanceof CallDeadlineError) return new ConnectError('deadline exceeded while handling the heartbeat', Code.DeadlineExceeded);
  if (signal.aborted || err instanceof HeartbeatBatcherClosedError) return new ConnectError('the server is shutting down or the call was cancelled', Code.Unavailable);
  if (err instanceof WireDecodeError) return new ConnectError('stored installation request is malformed', Code.Internal);
  if (err instanceof SessionExpiredError) return new ConnectError('the BMDB session is unavailable, retry later', Code.Unavailable);
  // Anything else came out of the database layer: the agent should retry.
  return new ConnectError('the BMDB is unavailable, retry later', Code.Unavailable);
}

/** The refusal label of a failed heartbeat, from its error and the code it was answered with. */
function refusalOf(err: unknown, code: Code): HeartbeatRefusal {
  if (err instanceof AgentAuthenticationError) return err.takeoverInProgress ? 'takeover-in-progress' : 'unknown-agent';
  if (code === Code.InvalidArgument) return 'invalid';
  if (code === Code.DeadlineExceeded) return 'deadline';
  return code === Code.Unavailable ? 'unavailable' : 'internal';
}

/** `Code.DeadlineExceeded` → `DEADLINE_EXCEEDED`, the name gRPC tooling shows. */
export function grpcCodeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

const EMPTY_RESPONSE = toBinary(AgentHeartbeatResponseSchema, create(AgentHeartbeatResponseSchema));

/** Metric children per gRPC code, so that a call does not hash its labels. */
function callMetrics(metrics: ServerMetrics) {
  const byCode = new Map<string, { calls: { inc(): void }; duration: { observe(v: number): void } }>();
  return (code: string) => {
    let m = byCode.get(code);
    if (m === undefined) {
      const labels = { method: 'Heartbeat', code };
      m = { calls: metrics.calls.labels(labels), duration: metrics.duration.labels(labels) };
      byCode.set(code, m);
    }
    return m;
  };
}

/** AgentCallback.Heartbeat, served by a UnaryEndpoint. */
export function heartbeatMethod(opts: AgentCallbackServiceOptions): UnaryMethod {
  const perCode = callMetrics(opts.metrics);
  const acceptedHeartbeats = opts.metrics.heartbeats.labels({ result: 'accepted', reason: 'none' });

  // A body that is not a request at all: refused like other malformed calls, counted as undecodable.
  function undecodable(why: string): ConnectError {
    opts.logger.warn({ method: 'Heartbeat', why }, 'refused a request that could not be decoded');
    perCode(grpcCodeName(Code.InvalidArgument)).calls.inc();
    opts.metrics.heartbeats.inc({ result: 'refused', reason: 'undecodable' });
    return new ConnectError(`the request could not be decoded: ${why}`, Code.InvalidArgument);
  }

  async function heartbeat(request: AgentHeartbeatRequest, call: UnaryCall): Promise<Uint8Array> {
    const started = performance.now();
    const { signal } = call;
    const peer = opts.peerOf(call);
    // Made only when something is logged: most heartbeats log nothing.
    let child: Logger | undefined;
    const log = () => (child ??= opts.logger.child({ machineId: request.machineId, remoteAddress: peer.remoteAddress }));
    let code = 'OK';
    let refusal: HeartbeatRefusal | undefined;
    try {
      const outcome = await recordHeartbeat(opts.store, { request, publicKey: agentPublicKey(peer) }, { signal });
      if (opts.logger.isLevelEnabled('debug')) {
        const { hardwareReportStored, installationReport, installationRequest } = outcome;
        log().debug({ hardwareReportStored, installationReport, installationRequestGeneration: installationRequest?.generation.toString() }, 'heartbeat recorded');
      }
      if (outcome.hardwareReportStored) log().info('stored hardware report');
      if (outcome.installationReport) log().info(outcome.installationReport, 'stored installation report');
      return outcome.installationRequest
        ? toBinary(AgentHeartbeatResponseSchema, create(AgentHeartbeatResponseSchema, { installationRequest: outcome.installationRequest }))
        : EMPTY_RESPONSE;
    } catch (err) {
      const ce = toConnectError(err, signal);
      code = grpcCodeName(ce.code);
      refusal = refusalOf(err, ce.code);
      if (err instanceof AgentAuthenticationError && err.takeoverInProgress) log().info({ reason: err.reason }, 'refused heartbeat during takeover (the agent will retry)');
      else if (err instanceof AgentAuthenticationError) log().warn({ reason: err.reason }, 'refused heartbeat: agent authentication failed');
      else if (ce.code === Code.InvalidArgument) log().warn({ err }, 'refused malformed heartbeat');
      else if (opts.outage?.covers(err) === true) log().debug({ err, code }, 'heartbeat failed: the database is unreachable');
      else log().error({ err, code }, 'heartbeat failed');
      throw ce;
    } finally {
      const m = perCode(code);
      m.calls.inc();
      m.duration.observe((performance.now() - started) / 1000);
      if (refusal) opts.metrics.heartbeats.inc({ result: 'refused', reason: refusal });
      else acceptedHeartbeats.inc();
    }
  }

  return {
    path: heartbeatMethodPath,
    malformed: (why) => undecodable(why),
    call(bytes, call) {
      let request: AgentHeartbeatRequest;
      try {
        request = fromBinary(AgentHeartbeatRequestSchema, bytes);
      } catch (err) {
        return Promise.reject(undecodable(`parse binary: ${err instanceof Error ? err.message : String(err)}`));
      }
      return heartbeat(request, call);
    },
  };
}
