// Per-machine workflow state of one provider's machines, for live views that
// show a whole (small) fleet at once, such as `bmaas dev`'s summary. Three
// plain statements instead of one with aggregates, so it stays portable to
// CockroachDB and each stays an index lookup per machine.
import type { Queryable, QueryOptions } from '../driver.ts';
import type { Process, Provider } from '../model.ts';
import { heartbeatingClause, type RecoveryThresholds } from './predicates.ts';
import { SqlParams } from './sql-params.ts';

export interface MachineState {
  readonly machineId: string;
  readonly providerId: string;
  readonly agentStarted: boolean;
  readonly lastHeartbeatAt: Date | null;
  /** A heartbeat within the silence threshold. */
  readonly heartbeating: boolean;
  /** Finished ShepherdRecovery events in the history, less those that quarantined it: how often the recoverer rebooted it. */
  readonly recoveries: number;
  /** Backoffs by process, including expired ones not yet cleared by a success (`active` false). */
  readonly backoffs: ReadonlyArray<{ readonly process: Process; readonly cause: string; readonly until: Date; readonly active: boolean }>;
  /** Processes with work held on the machine right now. */
  readonly activeWork: readonly Process[];
  /** Whether it has a Quarantined tag (the shepherd leaves it alone). */
  readonly quarantined: boolean;
}

/** Every machine of `provider` with its tags, backoffs, work and recovery count. */
export async function listMachineStates(
  db: Queryable,
  a: { provider: Provider; thresholds?: RecoveryThresholds },
  opts?: QueryOptions,
): Promise<MachineState[]> {
  const p = new SqlParams();
  const provider = p.add(a.provider, 'provider');
  const heartbeating = heartbeatingClause(a.thresholds).sql(p);
  const machines = await db.query(
    `SELECT mp.machine_id::text AS machine_id, mp.provider_id,
        EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id) AS agent_started,
        EXISTS (SELECT 1 FROM machine_quarantined q WHERE q.machine_id = mp.machine_id) AS quarantined,
        (SELECT h.agent_heartbeat_at FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id) AS last_heartbeat_at,
        ${heartbeating} AS heartbeating,
        (SELECT count(*) FROM work_history wh WHERE wh.machine_id = mp.machine_id
            AND wh.process = 'ShepherdRecovery' AND wh.event = 'Finished'
            -- A recovery at the attempt limit finishes by quarantining the machine (in the same transaction): no reboot.
            AND NOT EXISTS (SELECT 1 FROM quarantine_history qh WHERE qh.machine_id = wh.machine_id AND qh.quarantine_event = 'Quarantined'
              AND qh.timestamp BETWEEN wh.timestamp - interval '1 second' AND wh.timestamp + interval '1 second'))::int AS recoveries
      FROM machine_provided mp WHERE mp.provider = ${provider} ORDER BY mp.provider_id`,
    p.values,
    opts,
  );
  const backoffs = await db.query(
    `SELECT b.machine_id::text AS machine_id, b.process, b.cause, b.until, b.until > now() AS active FROM work_backoff b
      JOIN machine_provided mp ON mp.machine_id = b.machine_id
      WHERE mp.provider = $1::provider`,
    [a.provider],
    opts,
  );
  const work = await db.query(
    `SELECT w.machine_id::text AS machine_id, w.process FROM work w
      JOIN machine_provided mp ON mp.machine_id = w.machine_id WHERE mp.provider = $1::provider`,
    [a.provider],
    opts,
  );
  const backoffsOf = groupBy(backoffs.rows, (r) => ({ process: r.process as Process, cause: String(r.cause), until: new Date(r.until as string | Date), active: Boolean(r.active) }));
  const workOf = groupBy(work.rows, (r) => r.process as Process);
  return machines.rows.map((r) => {
    const id = String(r.machine_id);
    return {
      machineId: id,
      providerId: String(r.provider_id),
      agentStarted: Boolean(r.agent_started),
      lastHeartbeatAt: r.last_heartbeat_at === null ? null : new Date(r.last_heartbeat_at as string | Date),
      heartbeating: Boolean(r.heartbeating),
      recoveries: Number(r.recoveries),
      backoffs: backoffsOf.get(id) ?? [],
      activeWork: workOf.get(id) ?? [],
      quarantined: Boolean(r.quarantined),
    };
  });
}

function groupBy<T>(rows: ReadonlyArray<Record<string, unknown>>, map: (row: Record<string, unknown>) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const key = String(row.machine_id);
    const list = out.get(key) ?? [];
    list.push(map(row));
    out.set(key, list);
  }
  return out;
}
