// Session.claim's statement: a candidate query for at most `size` machines
// (their rows locked) and the claim of each, in one statement. The candidate
// is MATERIALIZED, so the stale-view check (migration 0010) runs on its rows
// after their locks were taken, and reads its own snapshot: what committed
// meanwhile, which the statement's snapshot, taken before the locks, cannot
// show. Columns of the claim are prefixed bmdb_ next to the candidate's.
// Parameters: the candidate's, then the session id and the process.
import { SqlParams, type CandidateStatement } from './queries/index.ts';

/** Most machines one claim statement takes (one per waiting claim of a session). */
export const MAX_CLAIM_GROUP = 8;

function claimSql(candidateSql: string, params: readonly unknown[], staleCheck: boolean): string {
  const p = new SqlParams();
  p.values.push(...params);
  const session = p.add(null, 'uuid');
  const proc = p.add(null, 'process');
  // Always at least one row: with no candidate, one of nulls that still says
  // whether the session is alive. Otherwise one per candidate, claimed or
  // not (bmdb_claimed null: held by another session, or ended since the
  // statement began).
  return `WITH live AS (
  SELECT 1 FROM sessions WHERE session_id = ${session} AND session_deadline > now()
), cand AS MATERIALIZED (
${candidateSql}
), claimed AS (
  INSERT INTO work (machine_id, session_id, process) SELECT c.machine_id, ${session}, ${proc} FROM cand c, live
  ${staleCheck ? `WHERE NOT bmdb_claim_refused(c.machine_id, ${proc}, now())` : ''}
  ON CONFLICT (machine_id, process) DO NOTHING RETURNING machine_id, process
), hist AS (
  INSERT INTO work_history (machine_id, process, event, timestamp) SELECT machine_id, process, 'Started', clock_timestamp() FROM claimed
)
SELECT EXISTS (SELECT 1 FROM live) AS bmdb_live, cl.machine_id AS bmdb_claimed,
  b.until AS bmdb_until, b.cause AS bmdb_cause, b.last_interval_seconds AS bmdb_last_interval_seconds, c.*
FROM (SELECT 1) AS one
LEFT JOIN cand c ON true
LEFT JOIN claimed cl ON cl.machine_id = c.machine_id
LEFT JOIN work_backoff b ON b.machine_id = cl.machine_id AND b.process = cl.process`;
}

// The statement's text per candidate statement, stale-view check and size:
// built once, and the same string every time, so the driver's statement-name
// lookup does not hash kilobytes per claim.
const texts = new WeakMap<CandidateStatement<unknown>, Map<string, string>>();

/**
 * The claim statement around `candidate` for `size` machines (1 unless the
 * candidate has `sqlFor`), with or without the stale-view check.
 */
export function claimStatementText(candidate: CandidateStatement<unknown>, staleCheck: boolean, size: number): string {
  if (size !== 1 && (!candidate.sqlFor || !Number.isSafeInteger(size) || size < 1 || size > MAX_CLAIM_GROUP)) {
    throw new RangeError(`a claim statement takes 1 to ${MAX_CLAIM_GROUP} machines through a candidate statement with sqlFor, got ${size}`);
  }
  let bySize = texts.get(candidate);
  if (!bySize) texts.set(candidate, (bySize = new Map()));
  const key = `${staleCheck ? 'checked' : 'unchecked'}:${size}`;
  let text = bySize.get(key);
  if (text === undefined) bySize.set(key, (text = claimSql(size === 1 ? candidate.sql : candidate.sqlFor!(size), candidate.params, staleCheck)));
  return text;
}
