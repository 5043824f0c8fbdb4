// The storm guard's Prometheus metrics: whether this instance sees recovery
// paused, and how often a pause began, by reason.
import { Counter, Gauge, register, type Registry } from 'prom-client';

export interface StormGuardMetrics {
  readonly paused: Gauge;
  readonly pauses: Counter<'reason'>;
}

export function stormGuardMetrics(registry: Registry = register): StormGuardMetrics {
  const existing = registry.getSingleMetric('bmaas_recoverer_storm_paused');
  if (existing) return { paused: existing as Gauge, pauses: registry.getSingleMetric('bmaas_recoverer_storm_pauses_total') as Counter<'reason'> };
  return {
    paused: new Gauge({ name: 'bmaas_recoverer_storm_paused', help: '1 while the storm guard pauses recovery (as this shepherd sees it), else 0', registers: [registry] }),
    pauses: new Counter({ name: 'bmaas_recoverer_storm_pauses_total', help: 'Recovery pauses begun by the storm guard, by reason', labelNames: ['reason'], registers: [registry] }),
  };
}
