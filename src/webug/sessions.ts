// Sessions: the list (live first) and one session with the work it holds.
import { getSession, type Process, type SessionRow } from '../bmdb/index.ts';
import type { WebugContext } from './context.ts';
import { NotFoundError } from './errors.ts';

export const SESSION_LIST_LIMIT = 500;
export const SESSION_WORK_LIMIT = 1000;

export interface SessionSummary extends SessionRow {
  readonly workCount: number;
}

export interface SessionDetail {
  readonly session: SessionRow;
  readonly work: ReadonlyArray<{ machineId: string; process: Process; since: Date | null }>;
  readonly workTruncated: boolean;
}

export async function listSessions(ctx: WebugContext, signal?: AbortSignal): Promise<{ sessions: SessionSummary[]; truncated: boolean }> {
  return ctx.read(
    async (db) => {
      const r = await db.query(
        `SELECT s.session_id, s.session_component_name, s.session_runtime_info, s.session_created_at, s.session_interval_seconds,
           s.session_deadline, s.session_deadline > now() AS live, (SELECT count(*) FROM work w WHERE w.session_id = s.session_id) AS work_count
         FROM sessions s ORDER BY s.session_deadline > now() DESC, s.session_created_at DESC LIMIT ${SESSION_LIST_LIMIT + 1}`,
        [],
        { signal },
      );
      const sessions = r.rows.slice(0, SESSION_LIST_LIMIT).map((row) => ({
        sessionId: String(row.session_id),
        componentName: String(row.session_component_name),
        runtimeInfo: String(row.session_runtime_info),
        createdAt: row.session_created_at as Date,
        intervalSeconds: Number(row.session_interval_seconds),
        deadline: row.session_deadline as Date,
        live: row.live === true,
        workCount: Number(row.work_count),
      }));
      return { sessions, truncated: r.rows.length > SESSION_LIST_LIMIT };
    },
    { signal },
  );
}

export async function loadSession(ctx: WebugContext, sessionId: string, signal?: AbortSignal): Promise<SessionDetail> {
  return ctx.read(
    async (db) => {
      const session = await getSession(db, { sessionId }, { signal });
      if (!session) throw new NotFoundError(`no session ${sessionId} (it may have been closed or collected)`);
      const w = await db.query(
        `SELECT w.machine_id, w.process,
           (SELECT max(wh.timestamp) FROM work_history wh WHERE wh.machine_id = w.machine_id AND wh.process = w.process AND wh.event = 'Started') AS since
         FROM work w WHERE w.session_id = $1::uuid ORDER BY w.machine_id, w.process LIMIT ${SESSION_WORK_LIMIT + 1}`,
        [sessionId],
        { signal },
      );
      return {
        session,
        work: w.rows.slice(0, SESSION_WORK_LIMIT).map((r) => ({ machineId: String(r.machine_id), process: r.process as Process, since: (r.since as Date | null) ?? null })),
        workTruncated: w.rows.length > SESSION_WORK_LIMIT,
      };
    },
    { signal },
  );
}
