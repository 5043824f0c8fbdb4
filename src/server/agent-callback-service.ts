// The gRPC edge: AgentCallback.Heartbeat. Domain errors become gRPC status
// codes here and nowhere else.
import { Code, ConnectError, createContextKey, createContextValues, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerRequest } from '@connectrpc/connect/protocol';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import type { Logger } from 'pino';
import { SessionExpiredError } from '../bmdb/index.ts';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { AgentCallback, type AgentHeartbeatRequest, type AgentHeartbeatResponseSchema } from '../proto/index.ts';
import { WireDecodeError } from '../proto/index.ts';
import { AgentAuthenticationError, HeartbeatBatcherClosedError, InvalidHeartbeatError } from './errors.ts';
import { recordHeartbeat, type HeartbeatStore } from './heartbeat.ts';
import type { HeartbeatRefusal, ServerMetrics } from './metrics.ts';
import { agentPublicKey, type PeerIdentity } from './peer-identity.ts';

/** Set per request by the HTTP/2 adapter from the TLS socket. */
export const peerIdentityKey = createContextKey<PeerIdentity>({ certificates: [], remoteAddress: undefined }, { description: 'TLS peer identity' });

export interface AgentCallbackServiceOptions {
  /** Where heartbeats are written (per call, plain ones batched when it has a batcher). */
  readonly store: HeartbeatStore;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Upper bound on one call's handling time, whatever deadline the client sent. */
  readonly callTimeoutMs: number;
}

class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

function toConnectError(err: unknown, signal: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof AgentAuthenticationError) return new ConnectError(err.message, Code.Unauthenticated);
  if (err instanceof InvalidHeartbeatError) return new ConnectError(err.message, Code.InvalidArgument);
  if (signal.aborted && signal.reason instanceof DeadlineError) return new ConnectError('deadline exceeded while handling the heartbeat', Code.DeadlineExceeded);
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

/** Set per request by refuseUndecodable; the handler marks that it was reached. */
const handlerReachedKey = createContextKey<{ reached: boolean } | undefined>(undefined, { description: 'the handler ran' });

/**
 * Connect answers a request body it cannot parse ("parse binary: illegal
 * tag") with INTERNAL, before any handler runs. A call that ends with INTERNAL
 * without reaching its handler failed at decoding what the client sent, so it
 * is answered INVALID_ARGUMENT (and logged and counted like other refusals).
 */
function refuseUndecodable(handler: UniversalHandler, opts: AgentCallbackServiceOptions): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest) => {
    const mark = { reached: false };
    const values = req.contextValues ?? createContextValues();
    values.set(handlerReachedKey, mark);
    const res = await handler({ ...req, contextValues: values });
    const fix = () => {
      if (mark.reached || res.trailer?.get('grpc-status') !== String(Code.Internal)) return;
      const why = decodeURIComponent(res.trailer.get('grpc-message') ?? '');
      opts.logger.warn({ method: handler.method.name, why }, 'refused a request that could not be decoded');
      opts.metrics.calls.inc({ method: handler.method.name, code: grpcCodeName(Code.InvalidArgument) });
      if (handler.method.name === 'Heartbeat') opts.metrics.heartbeats.inc({ result: 'refused', reason: 'undecodable' });
      setTrailerStatus(res.trailer, new ConnectError(`the request could not be decoded: ${why}`, Code.InvalidArgument));
    };
    fix(); // Connect has already answered when the first message did not parse.
    if (res.body === undefined) return res;
    const body = res.body;
    async function* checked(): AsyncIterable<Uint8Array> {
      try {
        yield* body;
      } finally {
        fix();
      }
    }
    return { ...res, body: checked() };
  };
  return Object.assign(wrapped, handler);
}

/** `Code.DeadlineExceeded` → `DEADLINE_EXCEEDED`, the name gRPC tooling shows. */
export function grpcCodeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

export function agentCallbackRoutes(opts: AgentCallbackServiceOptions): (router: ConnectRouter) => void {
  async function heartbeat(request: AgentHeartbeatRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof AgentHeartbeatResponseSchema>> {
    const started = performance.now();
    const reached = ctx.values.get(handlerReachedKey);
    if (reached) reached.reached = true;
    const peer = ctx.values.get(peerIdentityKey);
    // Made only when something is logged: most heartbeats log nothing.
    let child: Logger | undefined;
    const log = () => (child ??= opts.logger.child({ machineId: request.machineId, remoteAddress: peer.remoteAddress }));
    const clientTimeout = ctx.timeoutMs();
    const timeoutMs = Math.max(1, Math.min(opts.callTimeoutMs, clientTimeout ?? Infinity));
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DeadlineError()), timeoutMs);
    const signal = AbortSignal.any([ctx.signal, deadline.signal]);
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
      return outcome.installationRequest ? { installationRequest: outcome.installationRequest } : {};
    } catch (err) {
      const ce = toConnectError(err, signal);
      code = grpcCodeName(ce.code);
      refusal = refusalOf(err, ce.code);
      if (err instanceof AgentAuthenticationError && err.takeoverInProgress) log().info({ reason: err.reason }, 'refused heartbeat during takeover (the agent will retry)');
      else if (err instanceof AgentAuthenticationError) log().warn({ reason: err.reason }, 'refused heartbeat: agent authentication failed');
      else if (ce.code === Code.InvalidArgument) log().warn({ err }, 'refused malformed heartbeat');
      else log().error({ err, code }, 'heartbeat failed');
      throw ce;
    } finally {
      clearTimeout(timer);
      const labels = { method: 'Heartbeat', code };
      opts.metrics.calls.inc(labels);
      opts.metrics.duration.observe(labels, (performance.now() - started) / 1000);
      opts.metrics.heartbeats.inc(refusal ? { result: 'refused', reason: refusal } : { result: 'accepted', reason: 'none' });
    }
  }
  return (router) => {
    router.service(AgentCallback, { heartbeat });
    // The adapter reads router.handlers after this function returns.
    router.handlers.splice(0, router.handlers.length, ...router.handlers.map((h) => refuseUndecodable(h, opts)));
  };
}
