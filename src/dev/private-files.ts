// `bmaas dev` keeps a database, keys and logs of a (simulated) fleet: its data
// directories are 0700 and its log 0600, like the keys. A directory or log
// left looser by an earlier version is tightened at start, and the caller
// logs that it was.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import type { Logger } from 'pino';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** What tightenMode changed: the path and its mode before, e.g. 0o755. */
export interface Tightened {
  readonly path: string;
  readonly previousMode: number;
}

/** Removes group and other access from an existing path; undefined when it had none (or does not exist). */
export function tightenMode(file: string, mode: number): Tightened | undefined {
  let current: number;
  try {
    current = statSync(file).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((current & 0o077) === 0) return undefined;
  chmodSync(file, mode);
  return { path: file, previousMode: current };
}

/** Creates `dir` (and missing parents) 0700, or tightens it when it exists with group or other access. */
export function ensurePrivateDir(dir: string): Tightened | undefined {
  const tightened = tightenMode(dir, PRIVATE_DIR_MODE);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  return tightened;
}

/** Logs what ensurePrivateDir / tightenMode changed. */
export function logTightened(log: Logger, changes: ReadonlyArray<Tightened | undefined>): void {
  for (const c of changes) {
    if (c) log.warn({ path: c.path, previousMode: `0${c.previousMode.toString(8)}` }, `tightened ${c.path} from 0${c.previousMode.toString(8)} to owner-only access`);
  }
}
