// Reads files below a root directory (normally `/`) and turns every failure
// into a short warning instead of an exception: a hardware report with holes is
// worth more than no report. Only an abort is thrown.
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface ReadOptions {
  /** Do not warn when the file is absent: it is legitimately missing on many machines. */
  readonly optional?: boolean;
  /** Further error codes that mean "no value" rather than a problem (sysfs answers EINVAL for some attributes). */
  readonly quiet?: readonly string[];
}

const missingCodes = ['ENOENT', 'ENOTDIR'];

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EINVAL':
      return 'invalid argument';
    case 'EIO':
      return 'I/O error';
    case 'EISDIR':
      return 'is a directory';
    case undefined:
      return err instanceof Error ? err.message : String(err);
    default:
      return code;
  }
}

/**
 * A view of one directory below the root. Warnings read
 * `<section>: <label>/<file>: <reason>`, e.g. `dmi: product_serial: permission denied`.
 */
export class SysfsScope {
  readonly #root: string;
  readonly #base: string;
  readonly #section: string;
  readonly #label: string;
  readonly #warnings: string[];
  readonly #signal: AbortSignal | undefined;

  constructor(opts: {
    root: string;
    base: string;
    section: string;
    label: string;
    warnings: string[];
    signal: AbortSignal | undefined;
  }) {
    this.#root = opts.root;
    this.#base = opts.base;
    this.#section = opts.section;
    this.#label = opts.label;
    this.#warnings = opts.warnings;
    this.#signal = opts.signal;
  }

  /** A scope for a subdirectory; its warnings are labelled `<label>/<rel>` (or `label` when given). */
  sub(rel: string, label?: string): SysfsScope {
    return new SysfsScope({
      root: this.#root,
      base: join(this.#base, rel),
      section: this.#section,
      label: label ?? this.#labelFor(rel),
      warnings: this.#warnings,
      signal: this.#signal,
    });
  }

  /** Records a warning about `rel`, or about the scope's directory when `rel` is empty. */
  warn(rel: string, reason: string): void {
    // A scope without a label names itself by its path, e.g. `block: /sys/block: not found`.
    const label = this.#labelFor(rel) || `/${this.#base}`;
    this.#warnings.push(`${this.#section}: ${label}: ${reason}`);
  }

  /** File contents with surrounding whitespace trimmed. */
  async text(rel: string, opts: ReadOptions = {}): Promise<string | undefined> {
    const raw = await this.#attempt(rel, opts, () => readFile(this.#path(rel), { encoding: 'utf8', signal: this.#signal }));
    return raw?.trim();
  }

  async bytes(rel: string, opts: ReadOptions = {}): Promise<Buffer | undefined> {
    return this.#attempt(rel, opts, () => readFile(this.#path(rel), { signal: this.#signal }));
  }

  /** A decimal integer file; garbage is a warning. */
  async int(rel: string, opts: ReadOptions = {}): Promise<number | undefined> {
    const raw = await this.text(rel, opts);
    if (raw === undefined) return undefined;
    if (!/^-?\d+$/.test(raw)) {
      this.warn(rel, `not a number: ${JSON.stringify(raw.slice(0, 40))}`);
      return undefined;
    }
    return Number.parseInt(raw, 10);
  }

  /** The target of a symbolic link, as written (never resolved, so nothing escapes the root). */
  async link(rel: string, opts: ReadOptions = {}): Promise<string | undefined> {
    return this.#attempt(rel, opts, () => readlink(this.#path(rel)));
  }

  /** Entry names, sorted so reports are stable. */
  async list(rel: string, opts: ReadOptions = {}): Promise<string[] | undefined> {
    const names = await this.#attempt(rel, opts, () => readdir(this.#path(rel)));
    return names?.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  /** Whether the entry exists (a dangling symlink counts); undefined, with a warning, when that cannot be told. */
  async exists(rel: string): Promise<boolean | undefined> {
    this.#signal?.throwIfAborted();
    try {
      await lstat(this.#path(rel));
      return true;
    } catch (err) {
      if (missingCodes.includes((err as NodeJS.ErrnoException).code ?? '')) return false;
      this.warn(rel, reasonOf(err));
      return undefined;
    }
  }

  #path(rel: string): string {
    return join(this.#root, this.#base, rel);
  }

  #labelFor(rel: string): string {
    if (this.#label === '') return rel;
    return rel === '' ? this.#label : `${this.#label}/${rel}`;
  }

  async #attempt<T>(rel: string, opts: ReadOptions, run: () => Promise<T>): Promise<T | undefined> {
    this.#signal?.throwIfAborted();
    try {
      return await run();
    } catch (err) {
      if (this.#signal?.aborted === true || (err as Error | undefined)?.name === 'AbortError') throw err;
      const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
      const quiet = (opts.optional === true && missingCodes.includes(code)) || (opts.quiet ?? []).includes(code);
      if (!quiet) this.warn(rel, reasonOf(err));
      return undefined;
    }
  }
}

/** The scope for `base` below `root`, warning into `warnings` under `section`. */
export function openScope(opts: {
  root: string;
  base: string;
  section: string;
  label?: string;
  warnings: string[];
  signal?: AbortSignal | undefined;
}): SysfsScope {
  return new SysfsScope({ ...opts, label: opts.label ?? '', signal: opts.signal });
}
