// The fleet list's filters: parsed from the URL, turned back into links, and
// compiled to one keyset-paged SQL statement over `machines m`.
import { DERIVED_MACHINE_STATES, PROCESSES, PROVIDER_STATUSES, PROVIDERS, SqlParams, stuckMachinesSql, type DerivedMachineState, type Process, type Provider, type ProviderStatus, type StuckSelection } from '../bmdb/index.ts';
import { BadRequestError } from './errors.ts';
import { cursorParts, decodeCursor, durationParam, encodeCursor, intParam, likePrefix, oneOf, textParam, uuidPrefixRange } from './params.ts';
import { quoteIdent } from './tag-schema.ts';

export const FLEET_SORTS = ['id', 'heartbeat', 'created'] as const;
export type FleetSort = (typeof FLEET_SORTS)[number];
export type ActivityFilter = Process | 'any' | 'none';
/** Stuck in any state, or in this one (docs/architecture.md#stuck-machines). */
export type StuckFilter = DerivedMachineState | 'any';
export const STUCK_FILTERS: readonly StuckFilter[] = ['any', ...DERIVED_MACHINE_STATES];

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface FleetFilter {
  readonly q?: string | undefined;
  readonly provider?: Provider | undefined;
  readonly status?: ProviderStatus | undefined;
  /** Tag names (without `machine_`) that must be present / absent. */
  readonly has: readonly string[];
  readonly lacks: readonly string[];
  readonly work?: ActivityFilter | undefined;
  readonly backoff?: ActivityFilter | undefined;
  /** Heartbeat older than / newer than this many milliseconds (implies a heartbeat exists). */
  readonly hbOlderMs?: number | undefined;
  readonly hbNewerMs?: number | undefined;
  readonly stuck?: StuckFilter | undefined;
  readonly sort: FleetSort;
  readonly dir: 'asc' | 'desc';
  readonly limit: number;
  /** Decoded keyset cursor: [sort key as text or null, machine id]. */
  readonly after?: readonly [string | null, string] | undefined;
}

const ACTIVITY: readonly ActivityFilter[] = ['any', 'none', ...PROCESSES];

export function parseFleetFilter(params: URLSearchParams, tagNames: readonly string[]): FleetFilter {
  const tagList = (name: string) => {
    const values = params.getAll(name).filter((v) => v !== '');
    for (const v of values) if (!tagNames.includes(v)) throw new BadRequestError(`${name}: unknown tag ${JSON.stringify(v)}; known: ${tagNames.join(', ')}`);
    return [...new Set(values)];
  };
  const sort = oneOf(params, 'sort', FLEET_SORTS) ?? 'id';
  const after = decodeCursor(params, 'after', [cursorParts.optionalTimestamp, cursorParts.uuid]) as [string | null, string] | undefined;
  if (after && sort !== 'id' && after[0] === null) throw new BadRequestError('after does not match the sort order');
  return {
    q: textParam(params, 'q', 200),
    provider: oneOf(params, 'provider', PROVIDERS),
    status: oneOf(params, 'status', PROVIDER_STATUSES),
    has: tagList('has'),
    lacks: tagList('lacks'),
    work: oneOf(params, 'work', ACTIVITY),
    backoff: oneOf(params, 'backoff', ACTIVITY),
    hbOlderMs: durationParam(params, 'hb_older'),
    hbNewerMs: durationParam(params, 'hb_newer'),
    stuck: oneOf(params, 'stuck', STUCK_FILTERS),
    sort,
    dir: oneOf(params, 'dir', ['asc', 'desc'] as const) ?? 'asc',
    limit: intParam(params, 'limit', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    after,
  };
}

/** The filter as query parameters (without the cursor), for links and forms. */
export function fleetFilterQuery(f: FleetFilter): Record<string, string | string[] | undefined> {
  return {
    q: f.q,
    provider: f.provider,
    status: f.status,
    has: [...f.has],
    lacks: [...f.lacks],
    work: f.work,
    backoff: f.backoff,
    hb_older: f.hbOlderMs !== undefined ? `${f.hbOlderMs}ms` : undefined,
    hb_newer: f.hbNewerMs !== undefined ? `${f.hbNewerMs}ms` : undefined,
    stuck: f.stuck,
    sort: f.sort === 'id' ? undefined : f.sort,
    dir: f.dir === 'asc' ? undefined : f.dir,
    limit: f.limit === DEFAULT_PAGE_SIZE ? undefined : String(f.limit),
  };
}

const SORT_COLUMN: Record<FleetSort, string> = {
  id: 'm.machine_id',
  heartbeat: 'h.agent_heartbeat_at',
  created: 'm.machine_created_at',
};

function activity(table: 'work' | 'work_backoff', v: ActivityFilter, p: SqlParams): string {
  const alias = table === 'work' ? 'w' : 'b';
  const conds = [`${alias}.machine_id = m.machine_id`];
  if (table === 'work_backoff') conds.push('b.until > now()');
  if (v !== 'any' && v !== 'none') conds.push(`${alias}.process = ${p.add(v, 'process')}`);
  const exists = `EXISTS (SELECT 1 FROM ${table} ${alias} WHERE ${conds.join(' AND ')})`;
  return v === 'none' ? `NOT ${exists}` : exists;
}

export interface BuiltQuery {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** One page (limit + 1 rows, to know whether a next page exists) of machines matching the filter; `stuck` says what stuck means. */
export function buildFleetQuery(f: FleetFilter, stuck: Omit<StuckSelection, 'state'> = {}): BuiltQuery {
  const p = new SqlParams();
  const where: string[] = [];
  if (f.q) {
    // Each branch is index-driven on its own; a UNION keeps it that way where an OR would not.
    const branches: string[] = [];
    const range = uuidPrefixRange(f.q);
    if (range) branches.push(`SELECT machine_id FROM machines WHERE machine_id BETWEEN ${p.add(range.lo, 'uuid')} AND ${p.add(range.hi, 'uuid')}`);
    const like = p.add(likePrefix(f.q));
    branches.push(`SELECT machine_id FROM machine_provided WHERE provider_id LIKE ${like}`);
    branches.push(`SELECT machine_id FROM machine_provided WHERE provider_ip_address LIKE ${like}`);
    where.push(`m.machine_id IN (${branches.join(' UNION ')})`);
  }
  if (f.provider) where.push(`mp.provider = ${p.add(f.provider, 'provider')}`);
  if (f.status) where.push(`mp.provider_status = ${p.add(f.status, 'provider_status')}`);
  for (const t of f.has) where.push(`EXISTS (SELECT 1 FROM ${quoteIdent(`machine_${t}`)} t WHERE t.machine_id = m.machine_id)`);
  for (const t of f.lacks) where.push(`NOT EXISTS (SELECT 1 FROM ${quoteIdent(`machine_${t}`)} t WHERE t.machine_id = m.machine_id)`);
  if (f.work) where.push(activity('work', f.work, p));
  if (f.backoff) where.push(activity('work_backoff', f.backoff, p));
  if (f.hbOlderMs !== undefined) where.push(`h.agent_heartbeat_at < now() - ${p.add(f.hbOlderMs, 'bigint')} * interval '1 millisecond'`);
  if (f.hbNewerMs !== undefined) where.push(`h.agent_heartbeat_at >= now() - ${p.add(f.hbNewerMs, 'bigint')} * interval '1 millisecond'`);
  // ARRAY(…) is computed once, before the scan: as `IN (subquery)` the planner,
  // misjudging how few rows one state has, re-ran the stuck query per row.
  if (f.stuck) where.push(`m.machine_id = ANY(ARRAY(SELECT stuck.machine_id FROM (${stuckMachinesSql(p, { ...stuck, state: f.stuck === 'any' ? undefined : f.stuck })}) stuck))`);

  const col = SORT_COLUMN[f.sort];
  const cmp = f.dir === 'asc' ? '>' : '<';
  const dir = f.dir === 'asc' ? 'ASC' : 'DESC';
  if (f.sort !== 'id') where.push(`${col} IS NOT NULL`);
  if (f.after) {
    // parseFleetFilter checked both parts, and that a non-id sort has a key.
    const [key, id] = f.after;
    if (f.sort === 'id') where.push(`m.machine_id ${cmp} ${p.add(id, 'uuid')}`);
    else where.push(`(${col}, m.machine_id) ${cmp} (${p.add(key, 'timestamptz')}, ${p.add(id, 'uuid')})`);
  }
  const order = f.sort === 'id' ? `m.machine_id ${dir}` : `${col} ${dir}, m.machine_id ${dir}`;
  const sql = `SELECT m.machine_id, m.machine_created_at, mp.provider, mp.provider_id, mp.provider_ip_address, mp.provider_location,
  mp.provider_status, s.agent_started_at, h.agent_heartbeat_at, ${f.sort === 'id' ? 'NULL' : `${col}::text`} AS sort_key
FROM machines m
LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
LEFT JOIN machine_agent_started s ON s.machine_id = m.machine_id
LEFT JOIN machine_agent_heartbeat h ON h.machine_id = m.machine_id${where.length ? `\nWHERE ${where.join('\n  AND ')}` : ''}
ORDER BY ${order}
LIMIT ${p.add(f.limit + 1, 'int')}`;
  return { sql, params: p.values };
}

/** The cursor for the page after a row. */
export function fleetCursor(row: Record<string, unknown>): string {
  return encodeCursor([row.sort_key === null ? null : String(row.sort_key), String(row.machine_id)]);
}
