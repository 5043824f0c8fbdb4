// The labels of every enum type of the schema, as the database has them. A
// newer release may have added values this build's model does not know
// (docs/deploying.md#upgrades); what webug accepts back from a page it served,
// such as an audit cursor, is checked against these, not against the model.
import type { Queryable } from '../bmdb/index.ts';

export type EnumLabels = Readonly<Record<string, readonly string[]>>;

export async function readEnumLabels(db: Queryable, opts?: { signal?: AbortSignal | undefined }): Promise<EnumLabels> {
  const r = await db.query(
    `SELECT t.typname, e.enumlabel
     FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = current_schema()
     ORDER BY t.typname, e.enumsortorder`,
    [],
    opts,
  );
  const labels: Record<string, string[]> = {};
  for (const row of r.rows) (labels[String(row.typname)] ??= []).push(String(row.enumlabel));
  return labels;
}
