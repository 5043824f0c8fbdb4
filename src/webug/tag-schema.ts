// Tags are discovered, not declared: every `machine_*` table with a
// machine_id column is a tag, and its columns are read from
// information_schema. A new migration adding a tag shows up with no UI code.
import type { Queryable } from '../bmdb/index.ts';

export interface TagColumn {
  readonly name: string;
  /** information_schema data_type, e.g. `timestamp with time zone`, `bytea`, `USER-DEFINED`. */
  readonly dataType: string;
  /** The type name: enum name for USER-DEFINED, else the internal name (`int4`, `bytea`). */
  readonly udtName: string;
}

export interface TagTable {
  /** Table name without the `machine_` prefix, e.g. `agent_heartbeat`. */
  readonly name: string;
  readonly table: string;
  /** Columns other than machine_id, in table order. */
  readonly columns: readonly TagColumn[];
}

/** The order an operator reads a machine's life in; unknown tags follow alphabetically. */
const PREFERRED = ['provided', 'agent_started', 'agent_heartbeat', 'hardware_report', 'os_installation_request', 'os_installation_report'];

const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export async function discoverTags(db: Queryable, opts?: { signal?: AbortSignal | undefined }): Promise<TagTable[]> {
  const r = await db.query(
    `SELECT c.table_name, c.column_name, c.data_type, c.udt_name
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name LIKE 'machine\\_%'
     ORDER BY c.table_name, c.ordinal_position`,
    [],
    opts,
  );
  const byTable = new Map<string, { hasId: boolean; columns: TagColumn[] }>();
  for (const row of r.rows) {
    const table = String(row.table_name);
    const column = String(row.column_name);
    // Names end up inside SQL as quoted identifiers; anything unusual is skipped rather than trusted.
    if (!SAFE_IDENTIFIER.test(table) || !SAFE_IDENTIFIER.test(column)) continue;
    const entry = byTable.get(table) ?? { hasId: false, columns: [] };
    if (column === 'machine_id') entry.hasId = true;
    else entry.columns.push({ name: column, dataType: String(row.data_type), udtName: String(row.udt_name) });
    byTable.set(table, entry);
  }
  const tags: TagTable[] = [];
  for (const [table, e] of byTable) if (e.hasId) tags.push({ name: table.slice('machine_'.length), table, columns: e.columns });
  const rank = (n: string) => (PREFERRED.includes(n) ? PREFERRED.indexOf(n) : PREFERRED.length);
  return tags.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** `"machine_x"`: only ever called with names that passed SAFE_IDENTIFIER. */
export function quoteIdent(name: string): string {
  if (!SAFE_IDENTIFIER.test(name)) throw new Error(`refusing unsafe identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Row counts of every tag table in one round trip. */
export async function countTags(db: Queryable, tags: readonly TagTable[], opts?: { signal?: AbortSignal | undefined }): Promise<Record<string, number>> {
  if (tags.length === 0) return {};
  const parts = tags.map((t, i) => `(SELECT count(*) FROM ${quoteIdent(t.table)}) AS c${i}`);
  const r = await db.query(`SELECT ${parts.join(', ')}`, [], opts);
  const row = r.rows[0] ?? {};
  return Object.fromEntries(tags.map((t, i) => [t.name, Number(row[`c${i}`])]));
}
