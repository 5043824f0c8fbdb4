// The operators' audit trail (audit_log, migration 7) as webug shows it: the
// newest entries, of one machine when the audit filter names one.
import { listAuditEntries, type AuditEntry } from '../bmdb/index.ts';
import type { WebugContext } from './context.ts';
import { intParam, uuidParam } from './params.ts';

/** The schema version that adds audit_log; an older database has no operator actions to show. */
const AUDIT_LOG_VERSION = 7;
export const OPERATOR_AUDIT_PAGE_SIZE = 50;

export async function loadOperatorAudit(ctx: WebugContext, params: URLSearchParams, signal?: AbortSignal): Promise<{ rows: AuditEntry[] }> {
  const machineId = uuidParam(params, 'machine');
  const limit = intParam(params, 'limit', OPERATOR_AUDIT_PAGE_SIZE, 1, 1000);
  if ((await ctx.schema(signal)).schemaVersion < AUDIT_LOG_VERSION) return { rows: [] };
  return { rows: await ctx.read((db) => listAuditEntries(db, { machineId, limit }, { signal }), { signal }) };
}
