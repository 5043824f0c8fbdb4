// What a BMDB-backed control loop supplies to the runner (the seed's
// `controlLoop` interface): which process it runs, how it finds machines, and
// what it does with one.
import type { Backoff, CandidateStatement, MachineProvided, Process, Processor, Queries, Session, Work } from '../bmdb/index.ts';

/** One machine being processed, locked by a work item for as long as the task runs. */
export interface Task {
  /** The machine's Provided tag as the retrieval returned it. */
  readonly machine: MachineProvided;
  /**
   * The lock on (machine, process). processMachine normally ends it with
   * `finish`; if it throws instead, the runner fails the work with `backoff`.
   */
  readonly work: Work<MachineProvided>;
  /** The loop's session that holds the work, for extra transactions (they check it is alive). */
  readonly session: Session;
  /**
   * Starts as the loop's default backoff. processMachine may replace it before
   * throwing to give a specific failure mode a different retry policy.
   */
  backoff: Backoff;
  /**
   * Aborted when the runner's shutdown grace runs out, or when the work ends
   * or its session expires. Pass it to every I/O call.
   */
  readonly signal: AbortSignal;
}

export interface ControlLoop {
  /** Used in logs and the session's component name, e.g. `initializer`. */
  readonly name: string;
  readonly process: Process;
  readonly processor: Processor;
  readonly defaultBackoff: Backoff;
  /**
   * Machines ready to be processed, at most `limit`. Runs inside the claiming
   * transaction and may run more than once: no side effects outside `q`.
   */
  getMachines(q: Queries, limit: number): Promise<readonly MachineProvided[]>;
  /**
   * True when getMachines writes through `q`: those writes then stand only if
   * the claim succeeds (Session.work's `retrieveWrites`), at one round trip more
   * per claim. Absent or false: getMachines only reads.
   */
  readonly getMachinesWrites?: boolean;
  /**
   * getMachines for one machine as a single read-only statement
   * (agentStartCandidateStatement): when given, the runner claims through it
   * in one statement and one round trip (Session.claim) and calls getMachines
   * no more. Must select what getMachines(q, 1) would.
   */
  readonly candidateStatement?: CandidateStatement<MachineProvided>;
  /** Does the slow part (provider calls, SSH) and ends the work on success. */
  processMachine(task: Task): Promise<void>;
}
