// One `bmaas dev` per data directory: it holds the simulated machines' state
// as well as the embedded database, so a second one refuses to start and
// says who holds the directory.
import path from 'node:path';
import { acquirePidLock, LockHeldError } from '../lib/pid-lock.ts';

export class DataDirBusyError extends Error {
  override name = 'DataDirBusyError';
}

/** Takes the lock or throws DataDirBusyError; dispose to release it. */
export async function lockDataDir(dir: string): Promise<AsyncDisposable> {
  try {
    return await acquirePidLock(path.join(dir, 'dev.lock'), (pid) => `${dir} is in use by another bmaas dev (pid ${pid}); stop it or give a different --data-dir`);
  } catch (err) {
    if (err instanceof LockHeldError) throw new DataDirBusyError(err.message, { cause: err });
    throw err;
  }
}
