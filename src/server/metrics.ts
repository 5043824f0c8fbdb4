// Prometheus metrics of the agent callback server.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface ServerMetrics {
  readonly calls: Counter<'method' | 'code'>;
  readonly duration: Histogram<'method' | 'code'>;
  /** Heartbeats per batch written by the batcher. */
  readonly heartbeatBatchSize: Histogram;
}

export function serverMetrics(registry: Registry): ServerMetrics {
  const existing = registry.getSingleMetric('bmsrv_calls_total');
  if (existing) {
    return {
      calls: existing as Counter<'method' | 'code'>,
      duration: registry.getSingleMetric('bmsrv_call_duration_seconds') as Histogram<'method' | 'code'>,
      heartbeatBatchSize: registry.getSingleMetric('bmsrv_heartbeat_batch_size') as Histogram,
    };
  }
  return {
    calls: new Counter({ name: 'bmsrv_calls_total', help: 'Agent callback RPCs handled, by method and gRPC status code', labelNames: ['method', 'code'], registers: [registry] }),
    duration: new Histogram({
      name: 'bmsrv_call_duration_seconds',
      help: 'Agent callback RPC handling time, by method and gRPC status code',
      labelNames: ['method', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    heartbeatBatchSize: new Histogram({
      name: 'bmsrv_heartbeat_batch_size',
      help: 'Plain heartbeats written together in one statement',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
  };
}
