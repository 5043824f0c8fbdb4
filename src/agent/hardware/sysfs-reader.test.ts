import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openScope } from './sysfs-reader.ts';

describe('SysfsScope', () => {
  it('turns unreadable and malformed files into short warnings', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'hwreport-scope-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, 'sys/block/sda/queue'), { recursive: true });
    await writeFile(join(root, 'sys/block/sda/size'), 'lots\n');
    const warnings: string[] = [];
    const disk = openScope({ root, base: 'sys/block', section: 'block', warnings }).sub('sda');

    assert.equal(await disk.int('size'), undefined);
    assert.equal(await disk.text('queue'), undefined);
    assert.equal(await disk.text('serial'), undefined);
    assert.equal(await disk.text('wwid', { optional: true }), undefined);
    assert.deepEqual(warnings, [
      'block: sda/size: not a number: "lots"',
      'block: sda/queue: is a directory',
      'block: sda/serial: not found',
    ]);
  });
});
