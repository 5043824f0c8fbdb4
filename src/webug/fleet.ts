// The fleet list's data: one keyset page of machines, then the page's tags,
// work, backoffs and derived states in four more lookups, plus the fleet-wide
// counts (the stuck count among them).
import { getMachineStates, SqlParams, stuckMachinesSql, type Process, type Queryable } from '../bmdb/index.ts';
import type { WebugContext } from './context.ts';
import { buildFleetQuery, fleetCursor, parseFleetFilter, type FleetFilter } from './fleet-query.ts';
import { machineStatus, type MachineStatus } from './status.ts';
import { stateView, type MachineStateView } from './stuck.ts';
import { countTags, quoteIdent, type TagTable } from './tag-schema.ts';

export interface FleetRow {
  readonly machineId: string;
  readonly createdAt: Date;
  readonly provider: string | null;
  readonly providerId: string | null;
  readonly address: string | null;
  readonly location: string | null;
  readonly providerStatus: string | null;
  readonly agentStartedAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly tags: readonly string[];
  readonly work: ReadonlyArray<{ process: Process; sessionId: string; component: string | null }>;
  readonly backoffs: ReadonlyArray<{ process: Process; until: Date; cause: string }>;
  readonly status: MachineStatus;
  /** The derived state (docs/architecture.md#stuck-machines); null for a machine that is not provided. */
  readonly state: MachineStateView | null;
}

export interface FleetCounts {
  readonly machines: number;
  readonly tags: Record<string, number>;
  readonly activeWork: Record<string, number>;
  readonly activeBackoffs: Record<string, number>;
  /** Machines in a state for longer than its limit, fleet-wide (up to STUCK_COUNT_CACHE_MS old). */
  readonly stuck: number;
}

export interface FleetPage {
  readonly filter: FleetFilter;
  readonly rows: readonly FleetRow[];
  /** Cursor of the next page, or null on the last page. */
  readonly next: string | null;
  readonly counts: FleetCounts;
  readonly sql: string;
  readonly queryMs: number;
}

/** Cause text in the list is cut to its first line and this many characters. */
export const CAUSE_SUMMARY_CHARS = 80;

export function summarizeCause(cause: string): string {
  const line = cause.split('\n', 1)[0] ?? '';
  return line.length > CAUSE_SUMMARY_CHARS ? `${line.slice(0, CAUSE_SUMMARY_CHARS - 1)}…` : line;
}

/**
 * The stuck count derives every machine's state (about 0.2 s at 20,000
 * machines): live pages refresh every few seconds, so it is reused for this
 * long per webug.
 */
export const STUCK_COUNT_CACHE_MS = 10_000;
const stuckCounts = new WeakMap<WebugContext, { at: number; count: number }>();

async function stuckCount(ctx: WebugContext, db: Queryable, signal?: AbortSignal): Promise<number> {
  const cached = stuckCounts.get(ctx);
  if (cached && Date.now() - cached.at < STUCK_COUNT_CACHE_MS) return cached.count;
  const p = new SqlParams();
  const r = await db.query(`SELECT count(*) AS n FROM (${stuckMachinesSql(p, { thresholds: ctx.thresholds, limits: ctx.stuckLimits })}) stuck`, p.values, { signal });
  const count = Number(r.rows[0]?.n ?? 0);
  stuckCounts.set(ctx, { at: Date.now(), count });
  return count;
}

async function fleetCounts(ctx: WebugContext, db: Queryable, tags: readonly TagTable[], signal?: AbortSignal): Promise<FleetCounts> {
  const tagCounts = await countTags(db, tags, { signal });
  const machines = await db.query('SELECT count(*) AS n FROM machines', [], { signal });
  const work = await db.query('SELECT process, count(*) AS n FROM work GROUP BY process', [], { signal });
  const backoffs = await db.query('SELECT process, count(*) AS n FROM work_backoff WHERE until > now() GROUP BY process', [], { signal });
  const stuck = await stuckCount(ctx, db, signal);
  const byProcess = (rows: Record<string, unknown>[]) => Object.fromEntries(rows.map((r) => [String(r.process), Number(r.n)]));
  return { machines: Number(machines.rows[0]?.n ?? 0), tags: tagCounts, activeWork: byProcess(work.rows), activeBackoffs: byProcess(backoffs.rows), stuck };
}

export async function loadFleetPage(ctx: WebugContext, params: URLSearchParams, signal?: AbortSignal): Promise<FleetPage> {
  const { tags } = await ctx.schema(signal);
  const filter = parseFleetFilter(params, tags.map((t) => t.name));
  const query = buildFleetQuery(filter, { thresholds: ctx.thresholds, limits: ctx.stuckLimits });
  return ctx.read(
    async (db) => {
      const started = performance.now();
      const page = await db.query(query.sql, query.params, { signal });
      const more = page.rows.length > filter.limit;
      const rows = page.rows.slice(0, filter.limit);
      const ids = rows.map((r) => String(r.machine_id));
      const present = new Map<string, string[]>();
      const work = new Map<string, FleetRow['work'][number][]>();
      const backoffs = new Map<string, FleetRow['backoffs'][number][]>();
      if (ids.length > 0 && tags.length > 0) {
        const union = tags.map((t, i) => `SELECT ${i} AS tag, machine_id FROM ${quoteIdent(t.table)} WHERE machine_id = ANY($1::uuid[])`).join(' UNION ALL ');
        for (const r of (await db.query(union, [ids], { signal })).rows) {
          const id = String(r.machine_id);
          present.set(id, [...(present.get(id) ?? []), tags[Number(r.tag)]!.name]);
        }
      }
      if (ids.length > 0) {
        const w = await db.query(
          `SELECT w.machine_id, w.process, w.session_id, s.session_component_name FROM work w LEFT JOIN sessions s ON s.session_id = w.session_id
           WHERE w.machine_id = ANY($1::uuid[]) ORDER BY w.process`,
          [ids],
          { signal },
        );
        for (const r of w.rows) {
          const id = String(r.machine_id);
          work.set(id, [...(work.get(id) ?? []), { process: r.process as Process, sessionId: String(r.session_id), component: (r.session_component_name as string | null) ?? null }]);
        }
        const b = await db.query('SELECT machine_id, process, until, cause FROM work_backoff WHERE machine_id = ANY($1::uuid[]) AND until > now() ORDER BY process', [ids], { signal });
        for (const r of b.rows) {
          const id = String(r.machine_id);
          backoffs.set(id, [...(backoffs.get(id) ?? []), { process: r.process as Process, until: r.until as Date, cause: summarizeCause(String(r.cause)) }]);
        }
      }
      const queryMs = performance.now() - started;
      const now = Date.now();
      const states = new Map((await getMachineStates(db, { machineIds: ids, thresholds: ctx.thresholds, limits: ctx.stuckLimits }, { signal })).map((s) => [s.machineId, stateView(s, now)]));
      const counts = await fleetCounts(ctx, db, tags, signal);
      const out: FleetRow[] = rows.map((r) => {
        const id = String(r.machine_id);
        const rowWork = work.get(id) ?? [];
        const rowBackoffs = backoffs.get(id) ?? [];
        const heartbeatAt = (r.agent_heartbeat_at as Date | null) ?? null;
        const agentStartedAt = (r.agent_started_at as Date | null) ?? null;
        return {
          machineId: id,
          createdAt: r.machine_created_at as Date,
          provider: (r.provider as string | null) ?? null,
          providerId: (r.provider_id as string | null) ?? null,
          address: (r.provider_ip_address as string | null) ?? null,
          location: (r.provider_location as string | null) ?? null,
          providerStatus: (r.provider_status as string | null) ?? null,
          agentStartedAt,
          heartbeatAt,
          tags: present.get(id) ?? [],
          work: rowWork,
          backoffs: rowBackoffs,
          status: machineStatus({
            provided: r.provider !== null && r.provider !== undefined,
            agentStartedAt,
            heartbeatAt,
            activeWork: rowWork.map((x) => x.process),
            activeBackoffs: rowBackoffs.map((x) => x.process),
            silenceMs: ctx.thresholds.silenceSeconds * 1000,
            now,
          }),
          state: states.get(id) ?? null,
        };
      });
      return { filter, rows: out, next: more ? fleetCursor(rows[rows.length - 1]!) : null, counts, sql: query.sql, queryMs };
    },
    { signal },
  );
}

/** The machines the filter parameters select, in machine id order, at most `limit` (read 500 a page). */
export async function selectFleet(ctx: WebugContext, filter: URLSearchParams, limit: number, signal?: AbortSignal): Promise<FleetRow[]> {
  const params = new URLSearchParams(filter);
  params.delete('after');
  params.delete('sort');
  params.delete('dir');
  const rows: FleetRow[] = [];
  for (;;) {
    params.set('limit', String(Math.min(500, limit - rows.length)));
    const page = await loadFleetPage(ctx, params, signal);
    rows.push(...page.rows);
    if (!page.next || rows.length >= limit) return rows;
    params.set('after', page.next);
  }
}
