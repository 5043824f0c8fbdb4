// The workflow predicates (docs/architecture.md#workflow-predicates), written once.
//
// Each predicate is a list of named clauses over `mp` (a machine_provided row).
// A machine satisfies the predicate when every clause holds. The candidate
// queries, the stats counts and the operator UI's "why (not)" explanation all
// build their SQL from these lists, so they cannot drift apart.
import { SHEPHERD_PROCESSES } from '../model.ts';
import type { SqlParams } from './sql-params.ts';

/**
 * Every clause id: a closed set, so code that handles clauses one by one
 * (webug's explanation) is checked by the compiler to handle each of them.
 * `provided` is the clause every predicate starts from: the queries read
 * `machine_provided`, so it holds for every row they see.
 */
export const CLAUSE_IDS = Object.freeze([
  'provided',
  'no-agent-started',
  'agent-started',
  'no-active-work',
  'no-active-backoff',
  'no-fulfilled-installation',
  'no-successful-installation',
  'agent-silent',
  'heartbeating',
  'pending-installation',
  'installed',
  'not-quarantined',
  'rebootable',
] as const);

export type ClauseId = (typeof CLAUSE_IDS)[number];

export interface Clause {
  /** Short stable identifier, e.g. `no-active-work`. */
  readonly id: ClauseId;
  /** What must hold, in an operator's words. */
  readonly description: string;
  /** SQL boolean expression over `mp`; may add parameters. */
  sql(p: SqlParams): string;
}

/** Recovery thresholds; the defaults are the original's. */
export interface RecoveryThresholds {
  /** A started agent that never heartbeated is dead after this long. */
  readonly noHeartbeatAfterStartSeconds: number;
  /** An agent whose last heartbeat is older than this is silent. */
  readonly silenceSeconds: number;
}

export const DEFAULT_RECOVERY_THRESHOLDS: RecoveryThresholds = Object.freeze({
  noHeartbeatAfterStartSeconds: 30 * 60,
  silenceSeconds: 10 * 60,
});

const shepherdProcesses = SHEPHERD_PROCESSES.map((p) => `'${p}'`).join(', ');

const noActiveShepherdWork: Clause = {
  id: 'no-active-work',
  description: 'no active ShepherdAccess, ShepherdAgentStart or ShepherdRecovery work',
  sql: () => `NOT EXISTS (SELECT 1 FROM work w WHERE w.machine_id = mp.machine_id AND w.process IN (${shepherdProcesses}))`,
};

const noActiveBackoff = (process: string): Clause => ({
  id: 'no-active-backoff',
  description: `no unexpired ${process} backoff`,
  sql: () => `NOT EXISTS (SELECT 1 FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.process = '${process}' AND b.until > now())`,
});

/** An installation request whose generation the report matches: the machine got what it asked for. */
const fulfilledInstallation = (onlySuccessful: boolean) =>
  `EXISTS (SELECT 1 FROM machine_os_installation_request rq JOIN machine_os_installation_report rp ON rp.machine_id = rq.machine_id
    WHERE rq.machine_id = mp.machine_id AND rq.generation = rp.generation${onlySuccessful ? ` AND rp.os_installation_result = 'Success'` : ''})`;

/** No Quarantined tag: part of every shepherd candidate predicate (docs/architecture.md#recovery-guards). */
export const notQuarantinedClause: Clause = Object.freeze({
  id: 'not-quarantined',
  description: 'no Quarantined tag',
  sql: () => 'NOT EXISTS (SELECT 1 FROM machine_quarantined mq WHERE mq.machine_id = mp.machine_id)',
});

/** The provider can reboot the machine (a device-list entry without a BMC cannot): part of the recovery predicate. */
export const rebootableClause: Clause = Object.freeze({
  id: 'rebootable',
  description: 'the provider can reboot it (a BMC, or a provider that reboots every machine)',
  sql: () => 'mp.provider_rebootable',
});

export const agentStartPredicate: readonly Clause[] = Object.freeze([
  {
    id: 'no-agent-started',
    description: 'no AgentStarted tag',
    sql: () => 'NOT EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id)',
  },
  noActiveShepherdWork,
  noActiveBackoff('ShepherdAgentStart'),
  {
    id: 'no-fulfilled-installation',
    description: 'no fulfilled OS installation request',
    sql: () => `NOT ${fulfilledInstallation(false)}`,
  },
  notQuarantinedClause,
]);

export function recoveryPredicate(t: RecoveryThresholds = DEFAULT_RECOVERY_THRESHOLDS): readonly Clause[] {
  return [
    {
      id: 'agent-started',
      description: 'an AgentStarted tag',
      sql: () => 'EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id)',
    },
    noActiveShepherdWork,
    noActiveBackoff('ShepherdRecovery'),
    {
      id: 'no-successful-installation',
      description: 'no fulfilled successful OS installation',
      sql: () => `NOT ${fulfilledInstallation(true)}`,
    },
    {
      id: 'agent-silent',
      description: `no heartbeat ${t.noHeartbeatAfterStartSeconds} s after agent start, or last heartbeat older than ${t.silenceSeconds} s`,
      sql: (p) => {
        const start = p.add(t.noHeartbeatAfterStartSeconds, 'int');
        const silence = p.add(t.silenceSeconds, 'int');
        return `(
          (NOT EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id)
            AND EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id
              AND s.agent_started_at < now() - ${start} * interval '1 second'))
          OR EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id
              AND h.agent_heartbeat_at < now() - ${silence} * interval '1 second'))`;
      },
    },
    notQuarantinedClause,
    rebootableClause,
  ];
}

/** Heartbeat fresher than the silence threshold: the machine's agent is alive. */
export function heartbeatingClause(t: RecoveryThresholds = DEFAULT_RECOVERY_THRESHOLDS): Clause {
  return {
    id: 'heartbeating',
    description: `a heartbeat within the last ${t.silenceSeconds} s`,
    sql: (p) =>
      `EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id AND h.agent_heartbeat_at >= now() - ${p.add(t.silenceSeconds, 'int')} * interval '1 second')`,
  };
}

export const pendingInstallationClause: Clause = Object.freeze({
  id: 'pending-installation',
  description: 'an OS installation request with no report of its generation',
  sql: () => `EXISTS (SELECT 1 FROM machine_os_installation_request rq LEFT JOIN machine_os_installation_report rp ON rp.machine_id = rq.machine_id
    WHERE rq.machine_id = mp.machine_id AND (rp.machine_id IS NULL OR rp.generation <> rq.generation))`,
});

export const installedClause: Clause = Object.freeze({
  id: 'installed',
  description: 'a fulfilled successful OS installation',
  sql: () => fulfilledInstallation(true),
});

/** All clauses joined with AND. */
export function whereAll(clauses: readonly Clause[], p: SqlParams, opts: { perRow?: boolean } = {}): string {
  // perRow: each clause becomes a scalar subquery. PostgreSQL turns EXISTS in a
  // WHERE into (anti) joins, and with the scan starting at a random machine id
  // a merge anti join reads the joined index from its beginning up to there:
  // a LIMIT 1 candidate query at 100,000 machines then costs tens of times
  // what it costs at 1,000. A scalar subquery is evaluated per scanned row with
  // index lookups instead, so the cost follows the rows scanned, not the fleet.
  // Same meaning either way (and on CockroachDB).
  return clauses.map((c) => (opts.perRow ? `(SELECT ${c.sql(p)})` : `(${c.sql(p)})`)).join('\n  AND ');
}
