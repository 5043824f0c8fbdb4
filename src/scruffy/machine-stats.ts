// bmdb_stats_*: machine counts built from the shared workflow predicates
// (src/bmdb/queries/stats.ts), and active backoffs and work per process.
import { Gauge } from 'prom-client';
import { PROCESSES, type Process } from '../bmdb/index.ts';
import type { StatsCollectorFactory } from './collector.ts';

const MACHINE_GAUGES = {
  machines: 'machines in the BMDB',
  machines_provided: 'machines with a Provided tag',
  machines_heartbeating: 'provided machines whose agent heartbeated within the silence threshold',
  machines_pending_installation: 'provided machines with an OS installation request not yet reported on',
  machines_installed: 'provided machines whose OS installation request was fulfilled successfully',
  machines_pending_agent_start: 'provided machines that are agent start candidates right now',
  machines_pending_agent_recovery: 'provided machines that are recovery candidates right now',
} as const;

type MachineCount = keyof typeof MACHINE_GAUGES;

/** Sets every process label, zeros included, so a process with nothing has a series. */
function setPerProcess(gauge: Gauge<'process'>, rows: ReadonlyArray<{ process: Process; count: number }>): void {
  const byProcess = new Map(rows.map((r) => [r.process, r.count]));
  for (const process of PROCESSES) gauge.set({ process }, byProcess.get(process) ?? 0);
}

export const machineStatsCollector: StatsCollectorFactory = (registry, options) => {
  const registers = [registry];
  const machineGauges = Object.fromEntries(
    Object.entries(MACHINE_GAUGES).map(([suffix, help]) => [suffix, new Gauge({ name: `bmdb_stats_${suffix}`, help, registers })]),
  ) as Record<MachineCount, Gauge>;
  const backoffs = new Gauge({ name: 'bmdb_stats_active_backoffs', help: 'unexpired backoffs, by process', labelNames: ['process'], registers });
  const work = new Gauge({ name: 'bmdb_stats_active_work', help: 'work held right now, by process', labelNames: ['process'], registers });
  setPerProcess(backoffs, []);
  setPerProcess(work, []);
  const thresholds = options.recoveryThresholds;

  return {
    name: 'machine stats',
    async collect({ read, signal }) {
      const o = { signal };
      const r = await read(
        async (q) => ({
          counts: {
            machines: await q.countMachines(o),
            machines_provided: await q.countMachinesProvided(o),
            machines_heartbeating: await q.countMachinesHeartbeating({ thresholds }, o),
            machines_pending_installation: await q.countMachinesPendingInstallation(o),
            machines_installed: await q.countMachinesInstalled(o),
            machines_pending_agent_start: await q.countMachinesPendingAgentStart(o),
            machines_pending_agent_recovery: await q.countMachinesPendingAgentRecovery({ thresholds }, o),
          } satisfies Record<MachineCount, number>,
          backoffs: await q.countActiveBackoffs(o),
          work: await q.countActiveWork(o),
        }),
        o,
      );
      return () => {
        for (const [name, value] of Object.entries(r.counts)) machineGauges[name as MachineCount].set(value);
        setPerProcess(backoffs, r.backoffs);
        setPerProcess(work, r.work);
      };
    },
  };
};
