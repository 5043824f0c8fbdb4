// A cheap test that a run cannot have converged yet, so `bmaas dev` reads the
// whole fleet's state (a few queries over every machine and its history) only
// when the summary is due or convergence has become possible. Every machine
// whose fault the shepherd can cure has to heartbeat in the end, and a
// heartbeating machine has a heartbeat row: while the fleet has fewer such
// rows than curable machines, it has not converged.
import type { Bmdb } from '../bmdb/index.ts';
import type { Fault } from '../sim/index.ts';
import type { FleetView } from './fleet-summary.ts';

// The faults after which a machine ends up heartbeating (see machineConverged).
const HEARTBEATS_IN_THE_END: ReadonlySet<Fault> = new Set(['none', 'slowSsh', 'silent']);

/** How many of the fleet's machines must heartbeat before it can have converged. */
export function heartbeatsNeeded(fleet: Pick<FleetView, 'list' | 'faultOf'>): number {
  return fleet.list().filter((m) => HEARTBEATS_IN_THE_END.has(fleet.faultOf(m.id) ?? 'none')).length;
}

/** False when too few simulated machines have a heartbeat row for the fleet to have converged; one count over the heartbeat rows. */
export async function mayHaveConverged(bmdb: Bmdb, needed: number, signal: AbortSignal): Promise<boolean> {
  if (needed === 0) return true;
  const r = await bmdb.queries.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM machine_agent_heartbeat h JOIN machine_provided mp ON mp.machine_id = h.machine_id WHERE mp.provider = 'Sim'`,
    [],
    { signal },
  );
  return Number(r.rows[0]?.n ?? 0) >= needed;
}
