// bmdb_stats_sessions{component}: live BMDB sessions per component name, so
// an alert can say that no instance of a component is running. A component
// seen once (or named in the options) stays at 0 rather than vanishing.
import { Gauge } from 'prom-client';
import type { StatsCollectorFactory } from './collector.ts';

export const sessionStatsCollector: StatsCollectorFactory = (registry, options) => {
  const gauge = new Gauge({ name: 'bmdb_stats_sessions', help: 'live BMDB sessions (deadline not passed), by component', labelNames: ['component'], registers: [registry] });
  const known = new Set(options.sessionComponents);
  for (const component of known) gauge.set({ component }, 0);

  return {
    name: 'session stats',
    async collect({ read, signal }) {
      const rows = await read((q) => q.countLiveSessions({ signal }), { signal });
      return () => {
        const live = new Map(rows.map((r) => [r.component, r.count]));
        for (const component of live.keys()) known.add(component);
        for (const component of known) gauge.set({ component }, live.get(component) ?? 0);
      };
    },
  };
};
