// One `bmaas dev` per data directory: two processes opening the same embedded
// database would corrupt it, so the second one refuses to start and says who
// holds the directory. A lock left by a process that died is taken over.
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

export class DataDirBusyError extends Error {
  override name = 'DataDirBusyError';
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

/** Takes the lock or throws DataDirBusyError; dispose to release it. */
export async function lockDataDir(dir: string): Promise<AsyncDisposable> {
  const file = path.join(dir, 'dev.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { [Symbol.asyncDispose]: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DataDirBusyError(`${dir} is in use by another bmaas dev (pid ${pid}); stop it or give a different --data-dir`);
      }
      await rm(file, { force: true });
    }
  }
  throw new DataDirBusyError(`could not lock ${dir}`);
}
