// bmaas dev's data directories are 0700 and its log 0600; looser ones are tightened.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ensurePrivateDir, tightenMode } from './private-files.ts';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('private data directories and logs', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'bmaas-private-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates a missing directory 0700, parents included', () => {
    const dir = path.join(root, 'new', 'bmdb');
    assert.equal(ensurePrivateDir(dir), undefined);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(path.dirname(dir)), 0o700);
  });

  it('tightens an existing 0755 directory and says what it was', () => {
    const dir = path.join(root, 'old');
    mkdirSync(dir, { mode: 0o755 });
    assert.deepEqual(ensurePrivateDir(dir), { path: dir, previousMode: 0o755 });
    assert.equal(mode(dir), 0o700);
    assert.equal(ensurePrivateDir(dir), undefined);
  });

  it('tightens an existing 0644 log to 0600', () => {
    const log = path.join(root, 'dev.log');
    writeFileSync(log, '', { mode: 0o644 });
    assert.deepEqual(tightenMode(log, 0o600), { path: log, previousMode: 0o644 });
    assert.equal(mode(log), 0o600);
    assert.equal(tightenMode(path.join(root, 'missing.log'), 0o600), undefined);
  });
});
