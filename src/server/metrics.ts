// Prometheus metrics of the agent callback server.
import { Counter, Histogram } from 'prom-client';
import { perRegistry } from '../lib/per-registry.ts';

/**
 * Why a heartbeat was refused, as the `reason` label of bmsrv_heartbeats_total
 * (accepted ones have reason `none`): unknown-agent (no AgentStarted tag
 * matches id and key), takeover-in-progress, invalid (malformed fields),
 * undecodable (not a request at all), deadline, unavailable (BMDB down or the
 * server stopping), internal.
 */
export const HEARTBEAT_REFUSALS = Object.freeze(['unknown-agent', 'takeover-in-progress', 'invalid', 'undecodable', 'deadline', 'unavailable', 'internal'] as const);
export type HeartbeatRefusal = (typeof HEARTBEAT_REFUSALS)[number];

export interface ServerMetrics {
  readonly calls: Counter<'method' | 'code'>;
  readonly duration: Histogram<'method' | 'code'>;
  /** Heartbeats per batch written by the batcher. */
  readonly heartbeatBatchSize: Histogram;
  /** Heartbeats by result (accepted, refused) and reason (none, or a HeartbeatRefusal). */
  readonly heartbeats: Counter<'result' | 'reason'>;
}

export const serverMetrics = perRegistry((registry): ServerMetrics => {
  const registers = [registry];
  const metrics: ServerMetrics = {
    calls: new Counter({ name: 'bmsrv_calls_total', help: 'Agent callback RPCs handled, by method and gRPC status code', labelNames: ['method', 'code'], registers }),
    duration: new Histogram({
      name: 'bmsrv_call_duration_seconds',
      help: 'Agent callback RPC handling time, by method and gRPC status code',
      labelNames: ['method', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    heartbeatBatchSize: new Histogram({
      name: 'bmsrv_heartbeat_batch_size',
      help: 'Plain heartbeats written together in one statement',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    heartbeats: new Counter({
      name: 'bmsrv_heartbeats_total',
      help: 'Agent heartbeats by result (accepted, refused) and the reason of a refusal (none when accepted)',
      labelNames: ['result', 'reason'],
      registers,
    }),
  };
  metrics.heartbeats.inc({ result: 'accepted', reason: 'none' }, 0);
  for (const reason of HEARTBEAT_REFUSALS) metrics.heartbeats.inc({ result: 'refused', reason }, 0);
  return metrics;
});
