// One set of metrics per prom-client registry. prom-client refuses to
// register a name twice on one registry, and several parts of one process
// (connections, loops, providers) may count into the same registry.
import type { Registry } from 'prom-client';

/** Wraps `create` so that each registry gets its metrics once; later calls return the same set. */
export function perRegistry<T>(create: (registry: Registry) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>();
  return (registry) => {
    let metrics = made.get(registry);
    if (metrics === undefined) {
      metrics = create(registry);
      made.set(registry, metrics);
    }
    return metrics;
  };
}
