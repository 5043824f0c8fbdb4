// The machine page's data: every tag (generic, decoded), work with its
// session, backoffs active and expired, history newest first, and explain.
import { getMachineStates, type Process, type Queryable, type WorkHistoryEvent } from '../bmdb/index.ts';
import type { WebugContext } from './context.ts';
import { NotFoundError } from './errors.ts';
import { explainMachine, type ProcessExplain } from './explain.ts';
import { installationState, type InstallationState } from './installation-state.ts';
import { decodeColumn, type DecodedBytes } from './proto-registry.ts';
import { stateView, type MachineStateView } from './stuck.ts';
import { quoteIdent, type TagTable } from './tag-schema.ts';

export interface TagField {
  readonly name: string;
  readonly type: string;
  /** Text form (timestamps as ISO 8601); null for SQL NULL; for bytea see `decoded`. */
  readonly value: string | null;
  readonly decoded?: DecodedBytes;
}

export interface TagValue {
  readonly name: string;
  readonly present: boolean;
  readonly fields: readonly TagField[];
}

export interface WorkInfo {
  readonly process: Process;
  readonly sessionId: string;
  readonly component: string | null;
  readonly runtimeInfo: string | null;
  readonly deadline: Date | null;
  readonly sessionLive: boolean | null;
  /** Latest Started history row of this machine and process: `work` has no timestamp of its own. */
  readonly since: Date | null;
}

export interface BackoffInfo {
  readonly process: Process;
  readonly until: Date;
  readonly cause: string;
  readonly lastIntervalSeconds: number | null;
  readonly active: boolean;
}

export interface HistoryInfo {
  readonly process: Process;
  readonly event: WorkHistoryEvent;
  readonly timestamp: Date;
  readonly failedCause: string | null;
}

export interface MachineDetail {
  readonly machineId: string;
  readonly createdAt: Date | null;
  /** False when only history remains (the machine row was deleted). */
  readonly exists: boolean;
  readonly tags: readonly TagValue[];
  readonly work: readonly WorkInfo[];
  readonly backoffs: readonly BackoffInfo[];
  readonly history: readonly HistoryInfo[];
  readonly historyTruncated: boolean;
  readonly explain: readonly ProcessExplain[];
  /** The derived state and, when stuck, why; null for a machine that is not provided. */
  readonly state: MachineStateView | null;
  /** Where its OS installation stands; null without request or report. */
  readonly installation: InstallationState | null;
}

export const HISTORY_LIMIT = 500;
/** Text values longer than this are cut: a response stays bounded whatever a tag holds. */
export const MAX_TEXT_CHARS = 4096;

function fieldText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean);
  return s.length > MAX_TEXT_CHARS ? `${s.slice(0, MAX_TEXT_CHARS)}… (${s.length} characters)` : s;
}

async function readTag(db: Queryable, tag: TagTable, machineId: string, signal?: AbortSignal): Promise<TagValue> {
  const cols = tag.columns.map((c) => quoteIdent(c.name));
  const r = await db.query(`SELECT true AS present${cols.length ? `, ${cols.join(', ')}` : ''} FROM ${quoteIdent(tag.table)} WHERE machine_id = $1::uuid`, [machineId], { signal });
  const row = r.rows[0];
  if (!row) return { name: tag.name, present: false, fields: [] };
  return {
    name: tag.name,
    present: true,
    fields: tag.columns.map((c) => {
      const v = row[c.name];
      const type = c.dataType === 'USER-DEFINED' ? c.udtName : c.dataType;
      if (v instanceof Uint8Array) return { name: c.name, type, value: null, decoded: decodeColumn(tag.table, c.name, v) };
      return { name: c.name, type, value: fieldText(v) };
    }),
  };
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function loadMachine(ctx: WebugContext, machineId: string, signal?: AbortSignal): Promise<MachineDetail> {
  const { tags } = await ctx.schema(signal);
  return ctx.read(
    async (db) => {
      const m = await db.query('SELECT machine_created_at FROM machines WHERE machine_id = $1::uuid', [machineId], { signal });
      const h = await db.query(
        `SELECT process, event, timestamp, failed_cause FROM work_history WHERE machine_id = $1::uuid ORDER BY timestamp DESC, event DESC LIMIT ${HISTORY_LIMIT + 1}`,
        [machineId],
        { signal },
      );
      if (m.rows.length === 0 && h.rows.length === 0) throw new NotFoundError(`no machine ${machineId}`);
      const tagValues: TagValue[] = [];
      for (const t of tags) tagValues.push(await readTag(db, t, machineId, signal));
      const w = await db.query(
        `SELECT w.process, w.session_id, s.session_component_name, s.session_runtime_info, s.session_deadline, s.session_deadline > now() AS live,
           (SELECT max(wh.timestamp) FROM work_history wh WHERE wh.machine_id = w.machine_id AND wh.process = w.process AND wh.event = 'Started') AS since
         FROM work w LEFT JOIN sessions s ON s.session_id = w.session_id WHERE w.machine_id = $1::uuid ORDER BY w.process`,
        [machineId],
        { signal },
      );
      const work: WorkInfo[] = w.rows.map((r) => ({
        process: r.process as Process,
        sessionId: String(r.session_id),
        component: (r.session_component_name as string | null) ?? null,
        runtimeInfo: (r.session_runtime_info as string | null) ?? null,
        deadline: (r.session_deadline as Date | null) ?? null,
        sessionLive: (r.live as boolean | null) ?? null,
        since: (r.since as Date | null) ?? null,
      }));
      const b = await db.query(
        'SELECT process, until, cause, last_interval_seconds, until > now() AS active FROM work_backoff WHERE machine_id = $1::uuid ORDER BY process',
        [machineId],
        { signal },
      );
      const backoffs: BackoffInfo[] = b.rows.map((r) => ({
        process: r.process as Process,
        until: r.until as Date,
        cause: fieldText(r.cause) ?? '',
        lastIntervalSeconds: num(r.last_interval_seconds),
        active: r.active === true,
      }));
      const field = (tag: string, name: string) => tagValues.find((t) => t.name === tag)?.fields.find((f) => f.name === name)?.value ?? null;
      const date = (s: string | null) => (s === null ? null : new Date(s));
      const reportGen = field('os_installation_report', 'generation');
      const explain = await explainMachine(
        db,
        machineId,
        ctx.thresholds,
        {
          work,
          backoffs,
          agentStartedAt: date(field('agent_started', 'agent_started_at')),
          heartbeatAt: date(field('agent_heartbeat', 'agent_heartbeat_at')),
          installRequestGeneration: num(field('os_installation_request', 'generation')),
          installReport: reportGen === null ? null : { generation: Number(reportGen), result: field('os_installation_report', 'os_installation_result') ?? '?' },
        },
        signal,
      );
      const [state] = await getMachineStates(db, { machineIds: [machineId], thresholds: ctx.thresholds, limits: ctx.stuckLimits }, { signal });
      return {
        machineId,
        state: state ? stateView(state) : null,
        createdAt: (m.rows[0]?.machine_created_at as Date | undefined) ?? null,
        exists: m.rows.length > 0,
        tags: tagValues,
        work,
        backoffs,
        history: h.rows.slice(0, HISTORY_LIMIT).map((r) => ({
          process: r.process as Process,
          event: r.event as WorkHistoryEvent,
          timestamp: r.timestamp as Date,
          failedCause: fieldText(r.failed_cause),
        })),
        historyTruncated: h.rows.length > HISTORY_LIMIT,
        explain,
        installation: installationState(tagValues),
      };
    },
    { signal },
  );
}
