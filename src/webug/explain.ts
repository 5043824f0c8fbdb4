// "Why is (or isn't) this machine a candidate?" Each process's predicate is
// the clause list the candidate queries use (src/bmdb predicates); here every
// clause is evaluated on its own for one machine, then annotated with the
// facts that decide it (the work and its session, the backoff and its cause).
import { agentStartPredicate, recoveryPredicate, SqlParams, type Clause, type ClauseId, type Process, type Queryable, type RecoveryThresholds } from '../bmdb/index.ts';

export interface ClauseResult {
  readonly id: ClauseId;
  readonly description: string;
  readonly holds: boolean;
  /** Facts behind the verdict, in an operator's words. */
  readonly details: readonly string[];
}

export interface ProcessExplain {
  readonly process: Process;
  readonly candidate: boolean;
  readonly clauses: readonly ClauseResult[];
}

/** What the annotations are built from; the machine page has all of it already. */
export interface ExplainFacts {
  readonly work: ReadonlyArray<{ process: string; sessionId: string; component: string | null; since: Date | null; sessionLive: boolean | null; deadline: Date | null }>;
  readonly backoffs: ReadonlyArray<{ process: string; until: Date; cause: string; active: boolean }>;
  readonly agentStartedAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly installRequestGeneration: number | null;
  readonly installReport: { generation: number; result: string } | null;
}

export function explainedProcesses(t: RecoveryThresholds): ReadonlyArray<{ process: Process; clauses: readonly Clause[] }> {
  return [
    { process: 'ShepherdAgentStart', clauses: agentStartPredicate },
    { process: 'ShepherdRecovery', clauses: recoveryPredicate(t) },
  ];
}

const PROVIDED: Omit<ClauseResult, 'holds' | 'details'> = { id: 'provided', description: 'a Provided tag (the candidate queries read machine_provided)' };

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** The facts behind one clause; a new clause id fails to compile until it is handled here. */
function details(clauseId: ClauseId, process: Process, f: ExplainFacts, holds: boolean): string[] {
  switch (clauseId) {
    case 'provided':
      // Decided by whether the machine_provided row exists, before any clause.
      return [];
    case 'no-agent-started':
    case 'agent-started':
      return f.agentStartedAt ? [`agent started at ${iso(f.agentStartedAt)}`] : ['no agent start recorded'];
    case 'no-active-work':
      return f.work.map(
        (w) =>
          `${w.process} work held by session ${w.sessionId}${w.component ? ` (${w.component})` : ''}${w.since ? ` since ${iso(w.since)}` : ''}` +
          (w.sessionLive === false && w.deadline ? `; that session expired at ${iso(w.deadline)} and awaits collection` : ''),
      );
    case 'no-active-backoff':
      return f.backoffs
        .filter((b) => b.process === process)
        .map((b) => (b.active ? `backing off until ${iso(b.until)}: ${b.cause}` : `backoff expired at ${iso(b.until)} (last cause: ${b.cause})`));
    case 'no-fulfilled-installation':
    case 'no-successful-installation':
    case 'pending-installation':
    case 'installed': {
      if (f.installRequestGeneration === null) return ['no installation requested'];
      const report = f.installReport ? `report for generation ${f.installReport.generation}: ${f.installReport.result}` : 'no report yet';
      return [`installation request generation ${f.installRequestGeneration}; ${report}`];
    }
    case 'agent-silent':
    case 'heartbeating': {
      if (f.heartbeatAt) return [`last heartbeat at ${iso(f.heartbeatAt)}`];
      return f.agentStartedAt ? [`no heartbeat since the agent started at ${iso(f.agentStartedAt)}`] : ['no agent'];
    }
    case 'not-quarantined':
      // The tag itself (reason, since, by) is on the machine page's tag list.
      return ['a quarantined machine is left alone by every shepherd loop until it is released'];
    case 'rebootable':
      return holds ? ['the provider can reboot it'] : ['no BMC: cannot be rebooted, never a recovery candidate'];
    default:
      throw new TypeError(`no explanation for clause ${String(clauseId satisfies never)}`);
  }
}

/** Evaluates each process's clauses for one machine in one statement. */
export async function explainMachine(
  db: Queryable,
  machineId: string,
  thresholds: RecoveryThresholds,
  facts: ExplainFacts,
  signal?: AbortSignal,
): Promise<ProcessExplain[]> {
  const processes = explainedProcesses(thresholds);
  const p = new SqlParams();
  const id = p.add(machineId, 'uuid');
  const columns: string[] = [];
  processes.forEach((proc, i) => proc.clauses.forEach((c, j) => columns.push(`(${c.sql(p)}) AS c${i}_${j}`)));
  const r = await db.query(`SELECT ${columns.join(',\n  ')} FROM machine_provided mp WHERE mp.machine_id = ${id}`, p.values, { signal });
  const row = r.rows[0];
  return processes.map((proc, i) => {
    const provided: ClauseResult = { ...PROVIDED, holds: row !== undefined, details: row ? [] : ['not provided: no provider backs this machine'] };
    const clauses = proc.clauses.map((c, j) => {
      const holds = row ? row[`c${i}_${j}`] === true : false;
      return { id: c.id, description: c.description, holds, details: row ? details(c.id, proc.process, facts, holds) : ['not evaluated: not provided'] };
    });
    const all = [provided, ...clauses];
    return { process: proc.process, candidate: all.every((c) => c.holds), clauses: all };
  });
}
