import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataDirBusyError, lockDataDir } from './data-dir-lock.ts';

describe('data directory lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-lock-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses a directory held by a live process and names it', async () => {
    await writeFile(path.join(dir, 'dev.lock'), `${process.ppid}\n`);
    await assert.rejects(lockDataDir(dir), (err: Error) => err instanceof DataDirBusyError && err.message.includes(`pid ${process.ppid}`));
  });

  it('takes over the lock of a process that is gone, and releases it on dispose', async () => {
    await writeFile(path.join(dir, 'dev.lock'), '2147483646\n');
    const lock = await lockDataDir(dir);
    assert.equal((await readFile(path.join(dir, 'dev.lock'), 'utf8')).trim(), String(process.pid));
    await lock[Symbol.asyncDispose]();
    await assert.rejects(readFile(path.join(dir, 'dev.lock')), { code: 'ENOENT' });
  });
});
