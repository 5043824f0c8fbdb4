import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PgliteDriver } from './driver-pglite.ts';
import { BmdbConfigError } from './errors.ts';

describe('embedded database directory', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-pglite-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is refused while another live process has it open, naming that process', async () => {
    const db = path.join(dir, 'held');
    await writeFile(`${db}.lock`, `${process.ppid}\n`);
    await assert.rejects(PgliteDriver.open(db), (err: Error) => err instanceof BmdbConfigError && err.message.includes(`pid ${process.ppid}`));
  });

  it('is locked while open and released on close; a dead owner\'s lock is taken over', async () => {
    const db = path.join(dir, 'free');
    await writeFile(`${db}.lock`, '2147483646\n');
    const driver = await PgliteDriver.open(db);
    assert.equal((await driver.query('SELECT 1 AS one')).rows[0]!.one, 1);
    assert.ok(existsSync(`${db}.lock`));
    await driver.close();
    assert.equal(existsSync(`${db}.lock`), false);
  });
});
