// Flag parsing for every command (bmaas and the standalone agent): a
// declarative table per command, parsed and validated once into typed values.
// Numeric and duration flags declare their bounds, enforced here and shown in
// --help; defaults are typed values taken from the components' own defaults.
// A bad value is a UsageError (one line, exit code 2).
//
// Where a value comes from, first match wins: the command line, then the
// environment (BMAAS_<NAME>, e.g. BMAAS_LISTEN_ADDRESS, or the flag's own
// `env`), then the file named by --config (or BMAAS_CONFIG; see
// config-file.ts), then the flag's default. Every source goes through the same
// conversion and bounds. A flag marked `secret` also reads its value from a
// file, so it stays out of argv and the environment: --NAME-file PATH,
// BMAAS_<NAME>_FILE or `NAME-file = PATH` in the config file (one trailing
// newline is dropped).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigFileError, readConfigFile, type ConfigEntry, type ConfigKey } from './config-file.ts';
import { formatDuration, MAX_TIMER_MS, parseDuration } from './duration.ts';
import { formatRate, parseRate, type RateLimit } from './rate.ts';

interface FlagBase {
  /** kebab-case, without the dashes. */
  readonly name: string;
  readonly description: string;
  /** Environment variable consulted when the flag is not given; default BMAAS_<NAME> (see envName). */
  readonly env?: string;
  /** A password or token: also read from a file (--NAME-file); see the top of this file. */
  readonly secret?: boolean;
  /** Placeholder shown in --help, e.g. URL or PATH. */
  readonly placeholder?: string;
}

export interface StringFlagSpec extends FlagBase {
  readonly type: 'string';
  readonly default?: string;
  /** Several occurrences allowed. */
  readonly multiple?: boolean;
}

export interface BooleanFlagSpec extends FlagBase {
  readonly type: 'boolean';
  readonly default?: boolean;
}

/** int, float and duration flags: inclusive bounds (milliseconds for durations), shown in --help. */
export interface NumberFlagSpec extends FlagBase {
  readonly type: 'int' | 'float' | 'duration';
  readonly default?: number;
  readonly min: number;
  readonly max: number;
}

/** "duration,count"; the interval is 1ms to MAX_TIMER_MS and the count 1 to MAX_RATE_BURST (see parseRate). */
export interface RateFlagSpec extends FlagBase {
  readonly type: 'rate';
  readonly default?: RateLimit;
}

export type FlagSpec = StringFlagSpec | BooleanFlagSpec | NumberFlagSpec | RateFlagSpec;
export type FlagType = FlagSpec['type'];

/** A duration flag's bounds from a component's DurationBounds. */
export function durationFlagBounds(b: { readonly minMs: number; readonly maxMs: number }): { min: number; max: number } {
  if (b.maxMs > MAX_TIMER_MS) throw new RangeError(`a duration flag may not exceed ${formatDuration(MAX_TIMER_MS)}`);
  return { min: b.minMs, max: b.maxMs };
}

/** Thrown for bad command lines: unknown flags, bad values, missing or stray arguments. Exit code 2. */
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

function formatNumber(spec: NumberFlagSpec, n: number): string {
  return spec.type === 'duration' ? formatDuration(n) : String(n);
}

function formatBoundsOf(spec: NumberFlagSpec): string {
  return `${formatNumber(spec, spec.min)} to ${formatNumber(spec, spec.max)}`;
}

function checkBounds(spec: NumberFlagSpec, n: number, raw: string): number {
  if (n < spec.min || n > spec.max) throw new Error(`must be ${formatBoundsOf(spec)}, got ${raw}`);
  return n;
}

function convert(spec: FlagSpec, raw: string | boolean): FlagValue {
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
        const text = String(raw).trim();
        const n = Number(text);
        if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
        return checkBounds(spec, n, text);
      }
      case 'float': {
        const text = String(raw).trim();
        const n = Number(text);
        if (!/^-?(\d+\.?\d*|\.\d+)$/.test(text) || !Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
        return checkBounds(spec, n, text);
      }
      case 'duration': {
        const ms = parseDuration(String(raw), { minMs: Number.MIN_SAFE_INTEGER, maxMs: Number.MAX_SAFE_INTEGER });
        return checkBounds(spec, ms, String(raw).trim());
      }
      case 'rate':
        return parseRate(String(raw));
    }
  } catch (err) {
    throw new UsageError(`invalid value for --${spec.name}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Joins `--flag value` into `--flag=value` for value flags, so values that
 * start with "-" (`--call-timeout -1s`, `--log-file -`) reach the value
 * check instead of util.parseArgs' "argument is ambiguous". A following
 * `--something` is left alone: that is a missing value, reported as such.
 */
function joinValues(specs: readonly FlagSpec[], argv: readonly string[]): string[] {
  const valued = new Set(specs.filter((s) => s.type !== 'boolean').map((s) => `--${s.name}`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (valued.has(arg) && next !== undefined && next.startsWith('-') && !next.startsWith('--')) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export interface ParseFlagsOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** How many positional arguments the command takes (default 0); more is a UsageError. */
  readonly positionals?: number;
}

/** The flag that names a config file, and its environment variable. */
export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'BMAAS_CONFIG';

/** The environment variable a flag is read from: its own `env`, else BMAAS_ and the name in upper case with underscores. */
export function envName(spec: FlagSpec): string {
  return spec.env ?? `BMAAS_${spec.name.toUpperCase().replaceAll('-', '_')}`;
}

/** The name of a secret flag's from-a-file variant, or undefined when it has none. */
function fileVariant(spec: FlagSpec, specs: readonly FlagSpec[]): string | undefined {
  if (spec.type !== 'string' || !spec.secret) return undefined;
  const name = `${spec.name}-file`;
  return specs.some((o) => o.name === name) ? undefined : name;
}

function readSecretFile(path: string, origin: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(`cannot read ${origin} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

interface Found {
  readonly raw: string | boolean | string[];
  /** Prefix or suffix for error messages: where the value came from. */
  readonly from?: string;
  readonly where?: string;
}

/** A value and its from-a-file variant in one source; both at once is a usage error. */
function oneOf(direct: Found | undefined, file: { path: string; origin: string } | undefined, names: string): Found | undefined {
  if (direct && file) throw new UsageError(`${names}: give the value or the file, not both`);
  if (file) return { ...direct, raw: readSecretFile(file.path, file.origin), from: file.origin };
  return direct;
}

export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], opts: ParseFlagsOptions = {}): ParsedFlags {
  const env = opts.env ?? process.env;
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  const configKeys: ConfigKey[] = [];
  for (const s of specs) {
    options[s.name] = { type: s.type === 'boolean' ? 'boolean' : 'string', ...(s.type === 'string' && s.multiple ? { multiple: true } : {}) };
    configKeys.push({ name: s.name, multiple: s.type === 'string' && s.multiple === true });
    const file = fileVariant(s, specs);
    if (file) {
      options[file] = { type: 'string' };
      configKeys.push({ name: file, multiple: false });
    }
  }
  const takesConfig = !specs.some((s) => s.name === CONFIG_FLAG);
  if (takesConfig) options[CONFIG_FLAG] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinValues(specs, argv), options, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages are multi-line with hints; keep the first line.
    throw new UsageError((err as Error).message.split('\n')[0]!, { cause: err });
  }
  const allowed = opts.positionals ?? 0;
  if (parsed.positionals.length > allowed) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[allowed])}`);

  const configPath = takesConfig ? ((parsed.values[CONFIG_FLAG] as string | undefined) ?? env[CONFIG_ENV]) : undefined;
  let config = new Map<string, ConfigEntry>();
  if (configPath) {
    try {
      config = readConfigFile(configPath, configKeys);
    } catch (err) {
      if (err instanceof ConfigFileError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
  }

  const find = (s: FlagSpec): Found | undefined => {
    const file = fileVariant(s, specs);
    const cli = parsed.values[s.name] as string | boolean | string[] | undefined;
    const cliFile = file ? (parsed.values[file] as string | undefined) : undefined;
    const fromCli = oneOf(cli === undefined ? undefined : { raw: cli }, cliFile === undefined ? undefined : { path: cliFile, origin: `--${file}` }, `--${s.name} and --${file}`);
    if (fromCli) return fromCli;
    const name = envName(s);
    const envValue = env[name];
    const envFile = file ? env[`${name}_FILE`] : undefined;
    const fromEnv = oneOf(envValue === undefined ? undefined : { raw: envValue, from: name }, envFile === undefined ? undefined : { path: envFile, origin: `${name}_FILE` }, `${name} and ${name}_FILE`);
    if (fromEnv) return fromEnv;
    const entry = config.get(s.name);
    const fileEntry = file ? config.get(file) : undefined;
    const multiple = s.type === 'string' && s.multiple;
    return oneOf(
      entry && { raw: multiple ? entry.values : entry.values[0]!, where: entry.where },
      fileEntry && { path: fileEntry.values[0]!, origin: `${fileEntry.where}: ${file}` },
      `${configPath}: ${s.name} and ${file}`,
    );
  };

  const values = new Map<string, FlagValue>();
  const given = new Set<string>();
  for (const s of specs) {
    const found = find(s);
    if (found === undefined) {
      values.set(s.name, s.default);
      continue;
    }
    given.add(s.name);
    const { raw } = found;
    if (s.type === 'string' && s.multiple) {
      values.set(s.name, Array.isArray(raw) ? raw : [String(raw)]);
      continue;
    }
    try {
      values.set(s.name, convert(s, Array.isArray(raw) ? raw[0]! : raw));
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      if (found.where) throw new UsageError(`${found.where}: ${err.message}`, { cause: err });
      if (found.from) throw new UsageError(`${err.message} (from ${found.from})`, { cause: err });
      throw err;
    }
  }
  if (parsed.values.help) values.set('help', true);
  return new ParsedFlags(values, parsed.positionals, given);
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** The default as --help shows it (and as the flag would read it), or undefined when there is none worth showing. */
export function formatFlagDefault(s: FlagSpec): string | undefined {
  if (s.default === undefined || s.default === '' || s.default === false) return undefined;
  switch (s.type) {
    case 'int':
    case 'float':
    case 'duration':
      return formatNumber(s, s.default as number);
    case 'rate':
      return formatRate(s.default as RateLimit);
    default:
      return String(s.default);
  }
}

export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const ph = s.type === 'boolean' ? '' : ` ${s.placeholder ?? s.type.toUpperCase()}`;
    const shownDefault = formatFlagDefault(s);
    const notes = [
      ...(shownDefault === undefined ? [] : [`default ${shownDefault}`]),
      ...(s.type === 'int' || s.type === 'float' || s.type === 'duration' ? [formatBoundsOf(s)] : []),
    ];
    const env = s.env ? ` [env ${s.env}]` : '';
    const file = fileVariant(s, specs);
    const head = `  --${s.name}${ph}${file ? `, --${file} PATH` : ''}`;
    return [head, `      ${s.description}${notes.length ? ` (${notes.join('; ')})` : ''}${env}`];
  });
  if (!specs.some((s) => s.name === CONFIG_FLAG)) {
    rows.push([
      `  --${CONFIG_FLAG} FILE`,
      `      read flags from FILE: one "name = value" per line, # comments [env ${CONFIG_ENV}]`,
    ]);
  }
  rows.push(['', 'Every flag can also be set in the environment as BMAAS_<NAME> (say --listen-address as BMAAS_LISTEN_ADDRESS)', 'or in the --config file; the command line wins over the environment, which wins over the file.']);
  return rows.flat().join('\n');
}

/**
 * A limit per time window: `5%/10m` (a share of some total) or `20/1h` (a count).
 * The recoverer's reboot cap uses it.
 */
export type PerWindowLimit =
  | { readonly kind: 'share'; readonly share: number; readonly windowMs: number }
  | { readonly kind: 'count'; readonly count: number; readonly windowMs: number };

/**
 * Parses `SHARE%/DURATION` (share from 0 to 100, fractions allowed) or
 * `COUNT/DURATION` (a whole number); the window is at least 1 s.
 * @throws UsageError when the text does not have that form.
 */
export function parsePerWindow(text: string): PerWindowLimit {
  const m = /^\s*(\d+(?:\.\d+)?)(%?)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) throw new UsageError(`expected COUNT/DURATION or SHARE%/DURATION (e.g. 5%/10m), got '${text}'`);
  let windowMs: number;
  try {
    windowMs = parseDuration(m[3]!, { minMs: 1000, maxMs: 7 * 24 * 3_600_000 });
  } catch (err) {
    throw new UsageError(`bad window in '${text}': ${(err as Error).message}`, { cause: err });
  }
  const n = Number(m[1]);
  if (m[2] === '%') {
    if (n > 100) throw new UsageError(`a share is at most 100%, got '${text}'`);
    return Object.freeze({ kind: 'share', share: n / 100, windowMs });
  }
  if (!Number.isInteger(n)) throw new UsageError(`a count is a whole number, got '${text}'`);
  return Object.freeze({ kind: 'count', count: n, windowMs });
}

/** The text parsePerWindow reads back to the same limit. */
export function formatPerWindow(l: PerWindowLimit): string {
  const amount = l.kind === 'share' ? `${Math.round(l.share * 10000) / 100}%` : String(l.count);
  return `${amount}/${formatDuration(l.windowMs)}`;
}
