// What `bmaas dev` shows: the simulated fleet as the BMDB sees it, counted by
// workflow state, and whether it has converged (every machine that can work
// does, every fault has been handled the way the shepherd should handle it,
// no storm-guard pause holds recovery back and no planned outage is to come).
import type { MachineState, Process } from '../bmdb/index.ts';
import type { Fault, ResetAnswerCount } from '../sim/index.ts';

export interface FleetSummary {
  /** Machines the simulated provider has. */
  readonly simulated: number;
  /** Simulated machines not (yet) in the BMDB. */
  readonly freeCapacity: number;
  readonly provided: number;
  readonly agentStarted: number;
  readonly heartbeating: number;
  /** Agent started but no recent heartbeat (never beat yet, or went quiet). */
  readonly silent: number;
  /** Machines with an unexpired backoff, per process. */
  readonly inBackoff: ReadonlyArray<{ readonly process: Process; readonly count: number }>;
  /** The most common backoff causes, most frequent first. */
  readonly topCauses: ReadonlyArray<{ readonly cause: string; readonly count: number }>;
  /** Taking over / rebooting right now. */
  readonly startingAgent: number;
  readonly recovering: number;
  /** Finished recoveries (reboots) in the history of these machines. */
  readonly rebooted: number;
  /** Machines with a Quarantined tag. */
  readonly quarantined: number;
  /** The storm guard's pause, as its row in the BMDB says; undefined when recovery may go on. */
  readonly pause: StormPause | undefined;
  /** Where the run is relative to --fault-server-outage; undefined without one. */
  readonly outage: { readonly phase: 'ahead' | 'on' | 'over'; readonly msUntilOver: number } | undefined;
  /** Power actions the simulated BMCs were asked for, by reset type and answer, most frequent first. */
  readonly bmcPower: readonly ResetAnswerCount[];
  readonly convergence: Convergence;
}

export interface Convergence {
  readonly converged: boolean;
  /** Machines still waited for, with why; empty when converged. */
  readonly waitingFor: ReadonlyArray<{ readonly providerId: string; readonly fault: Fault; readonly reason: string }>;
  /** What the whole fleet still waits for (a pause, an outage to come); empty when converged. */
  readonly fleetWaits: readonly string[];
}

/** A pause of the storm guard: its reason (`no-heartbeats`, `mass-silence`, `reboot-cap`, `settling`) and since when. */
export interface StormPause {
  readonly reason: string;
  readonly since: Date | null;
}

const CAUSE_WIDTH = 100;

// Faults the shepherd cannot cure: done once it gave up on them (backed off, or quarantined).
const HOPELESS: ReadonlySet<Fault> = new Set(['takeover', 'unreachable', 'dead']);

/** How the fault of a machine decides what "done" means for it. */
export function machineConverged(fault: Fault, m: MachineState | undefined): string | undefined {
  if (!m) return 'not in the BMDB yet';
  if (m.quarantined) return HOPELESS.has(fault) ? undefined : 'quarantined, though its fault is one the shepherd should cure';
  switch (fault) {
    case 'none':
    case 'slowSsh':
      return m.heartbeating ? undefined : m.agentStarted ? 'agent started, no recent heartbeat' : 'agent not started';
    case 'silent':
      if (m.recoveries === 0) return m.heartbeating ? 'heartbeating; waiting for it to go silent and be recovered' : 'waiting to be recovered';
      return m.heartbeating ? undefined : 'recovered; waiting for its agent to heartbeat again';
    case 'dead':
      // It never comes back: done once the recoverer gave up and quarantined it.
      return m.heartbeating ? 'heartbeating; waiting for it to go silent and die' : 'waiting for the recoverer to give up on it (quarantine)';
    case 'takeover':
    case 'unreachable':
      // They never work; done once the initializer failed on them and backed off.
      return m.backoffs.some((b) => b.process === 'ShepherdAgentStart') ? undefined : 'no agent start backoff yet';
  }
}

/**
 * What the fleet as a whole still waits for: a storm-guard pause other than
 * the reboot cap (which only delays reboots, and nothing waits for one once
 * every machine is done), and a planned server outage that is not over.
 */
export function fleetWaits(pause: StormPause | undefined, outage: FleetSummary['outage']): string[] {
  const waits: string[] = [];
  if (outage && outage.phase !== 'over') waits.push(`the server outage (${outage.phase === 'ahead' ? 'still to come' : 'on now'})`);
  if (pause && pause.reason !== 'reboot-cap') waits.push(`the storm guard's pause (${pause.reason}) to end`);
  return waits;
}

/** What the summary reads besides the machines' states. */
interface FleetExtras {
  readonly pause?: StormPause | undefined;
  readonly outage?: FleetSummary['outage'];
}

/** The simulated fleet as the summary needs it. */
export interface FleetView {
  list(): ReadonlyArray<{ readonly id: string }>;
  faultOf(id: string): Fault | undefined;
  bmcResetCounts(): readonly ResetAnswerCount[];
}

export function summarizeFleet(states: readonly MachineState[], fleet: FleetView, extras: FleetExtras = {}): FleetSummary {
  const byProviderId = new Map(states.map((s) => [s.providerId, s]));
  const backoffCounts = new Map<Process, number>();
  const causes = new Map<string, number>();
  let agentStarted = 0;
  let heartbeating = 0;
  let startingAgent = 0;
  let recovering = 0;
  let rebooted = 0;
  let quarantined = 0;
  for (const s of states) {
    if (s.quarantined) quarantined++;
    if (s.agentStarted) agentStarted++;
    if (s.heartbeating) heartbeating++;
    if (s.activeWork.includes('ShepherdAgentStart')) startingAgent++;
    if (s.activeWork.includes('ShepherdRecovery')) recovering++;
    rebooted += s.recoveries;
    for (const b of s.backoffs) {
      if (!b.active) continue;
      backoffCounts.set(b.process, (backoffCounts.get(b.process) ?? 0) + 1);
      const cause = oneLine(b.cause);
      causes.set(cause, (causes.get(cause) ?? 0) + 1);
    }
  }
  const waitingFor: Array<Convergence['waitingFor'][number]> = [];
  const machines = fleet.list();
  // Walk the fleet, not the BMDB: a machine that never got enrolled also counts.
  for (const { id: providerId } of machines) {
    const fault = fleet.faultOf(providerId) ?? 'none';
    const reason = machineConverged(fault, byProviderId.get(providerId));
    if (reason) waitingFor.push({ providerId, fault, reason });
  }
  const waits = fleetWaits(extras.pause, extras.outage);
  return {
    simulated: machines.length,
    freeCapacity: Math.max(0, machines.length - states.length),
    provided: states.length,
    agentStarted,
    heartbeating,
    silent: states.filter((s) => s.agentStarted && !s.heartbeating).length,
    inBackoff: [...backoffCounts].map(([process, count]) => ({ process, count })).sort((a, b) => a.process.localeCompare(b.process)),
    topCauses: [...causes].map(([cause, count]) => ({ cause, count })).sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause)).slice(0, 3),
    startingAgent,
    recovering,
    rebooted,
    quarantined,
    pause: extras.pause,
    outage: extras.outage,
    bmcPower: fleet.bmcResetCounts(),
    convergence: { converged: waitingFor.length === 0 && waits.length === 0, waitingFor, fleetWaits: waits },
  };
}

function oneLine(cause: string): string {
  // Machines failing the same way differ only in their address; count them together.
  const flat = cause
    .replace(/\s+/g, ' ')
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '<address>')
    .replace(/"sim-\d+"/g, '"sim-…"')
    .trim();
  return flat.length > CAUSE_WIDTH ? `${flat.slice(0, CAUSE_WIDTH - 1)}…` : flat;
}
