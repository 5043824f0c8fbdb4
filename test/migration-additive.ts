// The upgrade promise (docs/deploying.md#upgrades) in static form: an up
// migration only adds, so the previous release keeps working on the schema it
// leaves. findNonAdditive reads one up file and names every statement that
// takes something away from code written against the schema before it:
// dropping, renaming, retyping, a NOT NULL column an old INSERT does not fill,
// a constraint an old write may now break. Tables the same file creates are new,
// so anything goes on them.

export type NonAdditiveRule = 'drop' | 'rename' | 'column type' | 'not null without default' | 'new constraint on an existing table';

export interface NonAdditiveFinding {
  readonly rule: NonAdditiveRule;
  /** The statement, comments removed and whitespace squeezed. */
  readonly statement: string;
}

/** The statements of a SQL file without comments; `;` inside quotes or dollar quotes does not split. */
export function sqlStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end - 1;
      current += ' ';
    } else if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end;
      current += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '$' && /^\$\w*\$/.test(sql.slice(i))) {
      const tag = /^\$\w*\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end === -1 ? sql.length : end + tag.length - 1;
      current += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === ';') {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out.map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/** Splits on commas outside parentheses and quotes: the actions of one ALTER TABLE. */
function topLevelParts(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let current = '';
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current.trim());
  return parts;
}

const unquote = (name: string): string => name.replace(/"/g, '').replace(/^.*\./, '').toLowerCase();

/** Every statement of one up migration that is not purely additive. */
export function findNonAdditive(sql: string): NonAdditiveFinding[] {
  const findings: NonAdditiveFinding[] = [];
  const created = new Set<string>();
  for (const statement of sqlStatements(sql)) {
    // String literals emptied, so a word inside one ('Renamed') is no keyword.
    const bare = statement.replace(/'(?:[^']|'')*'/g, "''");
    const s = bare.toUpperCase();
    const found = (rule: NonAdditiveRule): void => void findings.push({ rule, statement });
    const createTable = /^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?("?[\w.]+"?)/i.exec(bare);
    if (createTable) created.add(unquote(createTable[1]!));
    if (/^(DROP|TRUNCATE)\b/.test(s)) found('drop');
    if (/\bRENAME\b/.test(s)) found('rename');
    const uniqueIndex = /^CREATE UNIQUE INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(?:"?\w+"? )?ON (?:ONLY )?("?[\w.]+"?)/i.exec(bare);
    if (uniqueIndex && !created.has(unquote(uniqueIndex[1]!))) found('new constraint on an existing table');
    const alter = /^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?("?[\w.]+"?) (.*)$/i.exec(bare);
    if (!alter || created.has(unquote(alter[1]!))) continue;
    for (const action of topLevelParts(alter[2]!)) {
      const a = action.toUpperCase();
      if (/^DROP\b/.test(a) || /^ALTER (?:COLUMN )?\S+ DROP (DEFAULT|NOT NULL)\b/.test(a)) found('drop');
      else if (/^ALTER (?:COLUMN )?\S+ (?:SET DATA )?TYPE\b/.test(a)) found('column type');
      else if (/^ALTER (?:COLUMN )?\S+ SET NOT NULL\b/.test(a)) found('not null without default');
      else if (/^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(?!CONSTRAINT\b|PRIMARY KEY\b|UNIQUE\b|CHECK\b|FOREIGN KEY\b|EXCLUDE\b)/.test(a)) {
        // Constraints on the new column itself are harmless: old writes leave it at its default.
        if (/\bNOT NULL\b/.test(a) && !/\bDEFAULT\b/.test(a)) found('not null without default');
      } else if (/^ADD\b/.test(a)) found('new constraint on an existing table');
    }
  }
  return findings;
}
