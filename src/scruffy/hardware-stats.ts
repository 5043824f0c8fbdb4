// bmdb_hwstats_region_*: nodes, RAM and CPU threads per (provider, location),
// summed over the machines' hardware reports.
//
// Reports are read in pages ordered by machine id, each page starting after
// the last id of the one before, whatever happened to its rows. (The original
// advanced only past rows it used, so a page of undecodable reports was read
// again forever.) A region that no longer has any node is removed, not left
// at its last value.
import { Gauge } from 'prom-client';
import type { HardwareReportRow, Queries } from '../bmdb/index.ts';
import { AgentHardwareReportSchema, decodeMessage } from '../proto/index.ts';
import type { StatsCollectorFactory } from './collector.ts';
import type { ReadFn } from './read-only.ts';

export interface RegionTotals {
  provider: string;
  location: string;
  nodes: number;
  ramBytes: number;
  cpuThreads: number;
}

export interface HardwareTotals {
  readonly regions: RegionTotals[];
  /** Reports that were not counted: undecodable, empty, or of a machine no provider has. */
  readonly skipped: number;
}

/** Reads every hardware report, page by page, and sums them per region. */
export async function collectHardwareTotals(read: ReadFn, a: { pageSize: number; signal: AbortSignal }): Promise<HardwareTotals> {
  const regions = new Map<string, RegionTotals>();
  let skipped = 0;
  let after: string | null = null;
  for (;;) {
    a.signal.throwIfAborted();
    const afterMachineId: string | null = after;
    const page: HardwareReportRow[] = await read((q: Queries) => q.listHardwareReports({ afterMachineId, limit: a.pageSize }, { signal: a.signal }), { signal: a.signal });
    for (const row of page) {
      const node = row.provider === null ? undefined : decodeNode(row.raw);
      if (!node) {
        skipped++;
        continue;
      }
      const location = row.providerLocation ?? '';
      const key = JSON.stringify([row.provider, location]);
      let r = regions.get(key);
      if (!r) regions.set(key, (r = { provider: row.provider!, location, nodes: 0, ramBytes: 0, cpuThreads: 0 }));
      r.nodes++;
      r.ramBytes += Number(node.memoryInstalledBytes);
      r.cpuThreads += node.cpu.reduce((sum, c) => sum + c.hardwareThreads, 0);
    }
    if (page.length < a.pageSize) break;
    after = page.at(-1)!.machineId;
  }
  return { regions: [...regions.values()], skipped };
}

function decodeNode(raw: Uint8Array) {
  try {
    return decodeMessage(AgentHardwareReportSchema, raw).report;
  } catch {
    return undefined;
  }
}

export const hardwareStatsCollector: StatsCollectorFactory = (registry, options) => {
  const registers = [registry];
  const labelNames = ['provider', 'location'] as const;
  const nodes = new Gauge({ name: 'bmdb_hwstats_region_nodes', help: 'machines with a hardware report, by provider and location', labelNames, registers });
  const ram = new Gauge({ name: 'bmdb_hwstats_region_ram_bytes', help: 'installed RAM in bytes, by provider and location', labelNames, registers });
  const threads = new Gauge({ name: 'bmdb_hwstats_region_cpu_threads', help: 'CPU hardware threads, by provider and location', labelNames, registers });
  const skipped = new Gauge({
    name: 'bmdb_hwstats_reports_skipped',
    help: 'hardware reports left out of the region totals in the last collection (undecodable, empty, or not provided)',
    registers,
  });

  return {
    name: 'hardware stats',
    async collect({ read, signal }) {
      const totals = await collectHardwareTotals(read, { pageSize: options.hardwarePageSize, signal });
      return () => {
        // Synchronous, so no scrape sees the gauges between reset and set.
        for (const g of [nodes, ram, threads]) g.reset();
        for (const r of totals.regions) {
          const labels = { provider: r.provider, location: r.location };
          nodes.set(labels, r.nodes);
          ram.set(labels, r.ramBytes);
          threads.set(labels, r.cpuThreads);
        }
        skipped.set(totals.skipped);
      };
    },
  };
};
