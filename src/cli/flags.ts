// Flag parsing for every command: a declarative table per command, parsed
// and validated once into typed values. A bad value is a UsageError (one
// line, exit code 2); `--help` is generated from the same table.
import { parseArgs } from 'node:util';
import { parseDuration } from '../lib/duration.ts';
import { parseRate, type RateLimit } from '../lib/rate.ts';

export type FlagType = 'string' | 'boolean' | 'int' | 'duration' | 'rate' | 'float';

export interface FlagSpec {
  /** kebab-case, without the dashes. */
  readonly name: string;
  readonly type: FlagType;
  readonly description: string;
  /** Textual default, parsed like a command-line value (shown in --help). */
  readonly default?: string | boolean;
  /** Environment variable consulted when the flag is not given. */
  readonly env?: string;
  /** Placeholder shown in --help, e.g. URL or PATH. */
  readonly placeholder?: string;
  /** Several occurrences allowed (string only). */
  readonly multiple?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagValue = string | boolean | number | RateLimit | string[] | undefined;

export class ParsedFlags {
  readonly #values: Map<string, FlagValue>;
  readonly positionals: readonly string[];
  readonly #given: Set<string>;

  constructor(values: Map<string, FlagValue>, positionals: string[], given: Set<string>) {
    this.#values = values;
    this.positionals = positionals;
    this.#given = given;
  }

  #get(name: string): FlagValue {
    if (!this.#values.has(name)) throw new Error(`flag --${name} is not declared`);
    return this.#values.get(name);
  }
  /** Whether the flag was given on the command line or by its environment variable. */
  given(name: string): boolean {
    return this.#given.has(name);
  }
  string(name: string): string | undefined {
    return this.#get(name) as string | undefined;
  }
  strings(name: string): string[] {
    return (this.#get(name) as string[] | undefined) ?? [];
  }
  boolean(name: string): boolean {
    return (this.#get(name) as boolean | undefined) ?? false;
  }
  /** int, float and duration (milliseconds) flags. */
  number(name: string): number | undefined {
    return this.#get(name) as number | undefined;
  }
  rate(name: string): RateLimit | undefined {
    return this.#get(name) as RateLimit | undefined;
  }
  /** A flag that must have a value. */
  require<T>(name: string, value: T | undefined): T {
    if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
    return value;
  }
}

function convert(spec: FlagSpec, raw: string | boolean): FlagValue {
  const where = `--${spec.name}`;
  try {
    switch (spec.type) {
      case 'boolean':
        if (typeof raw === 'boolean') return raw;
        if (/^(1|true|yes)$/i.test(raw)) return true;
        if (/^(0|false|no|)$/i.test(raw)) return false;
        throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
      case 'string':
        return String(raw);
      case 'int': {
        const n = Number(raw);
        if (!Number.isInteger(n)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
        return n;
      }
      case 'float': {
        const n = Number(raw);
        if (!Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
        return n;
      }
      case 'duration':
        return parseDuration(String(raw));
      case 'rate':
        return parseRate(String(raw));
    }
  } catch (err) {
    throw new UsageError(`invalid value for ${where}: ${(err as Error).message}`, { cause: err });
  }
}

export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const s of specs) options[s.name] = { type: s.type === 'boolean' ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages are multi-line with hints; keep the first line.
    throw new UsageError((err as Error).message.split('\n')[0]!, { cause: err });
  }
  const values = new Map<string, FlagValue>();
  const given = new Set<string>();
  for (const s of specs) {
    const raw = parsed.values[s.name] as string | boolean | string[] | undefined;
    if (raw !== undefined) {
      given.add(s.name);
      values.set(s.name, Array.isArray(raw) ? raw : convert(s, raw));
    } else if (s.env && env[s.env] !== undefined) {
      given.add(s.name);
      values.set(s.name, convert(s, env[s.env]!));
    } else {
      values.set(s.name, s.default === undefined ? undefined : convert(s, s.default));
    }
  }
  if (parsed.values.help) values.set('help', true);
  return new ParsedFlags(values, parsed.positionals, given);
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const ph = s.type === 'boolean' ? '' : ` ${s.placeholder ?? s.type.toUpperCase()}`;
    const def = s.default !== undefined && s.default !== '' && s.default !== false ? ` (default ${String(s.default)})` : '';
    const env = s.env ? ` [env ${s.env}]` : '';
    return [`  --${s.name}${ph}`, `      ${s.description}${def}${env}`];
  });
  return rows.flat().join('\n');
}
