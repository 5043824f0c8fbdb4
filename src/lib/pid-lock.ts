// A lock file holding the owner's pid: one process at a time for things that
// cannot be shared (an embedded database directory, `bmaas dev`'s data
// directory). A lock left behind by a process that has died is taken over.
import { open, readFile, rm } from 'node:fs/promises';

/** Thrown when a live process holds the lock; `pid` is that process. */
export class LockHeldError extends Error {
  override name = 'LockHeldError';
  readonly pid: number;
  constructor(message: string, pid: number) {
    super(message);
    this.pid = pid;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `file` with our pid, or throws LockHeldError (message from
 * `describe`) while another live process holds it. Dispose to release.
 */
export async function acquirePidLock(file: string, describe: (pid: number) => string): Promise<AsyncDisposable> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { [Symbol.asyncDispose]: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new LockHeldError(describe(pid), pid);
      await rm(file, { force: true });
    }
  }
  throw new LockHeldError(`could not take the lock ${file}`, 0);
}
