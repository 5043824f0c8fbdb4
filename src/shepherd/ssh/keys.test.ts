import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSshKey, readPasswordFile, SshCredentialsError } from './index.ts';

describe('loadOrCreateSshKey', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-keys-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('creates a 0600 Ed25519 OpenSSH key when missing and reads it back the second time', async () => {
    const path = join(dir, 'nested', 'id_ed25519');
    const first = await loadOrCreateSshKey(path);
    assert.equal(first.created, true);
    assert.equal(first.permissionsTooOpen, false);
    assert.match(first.privateKey.toString(), /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.match(first.publicKeyOpenSsh, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await readFile(`${path}.pub`, 'utf8')).split(' ').slice(0, 2).join(' '), first.publicKeyOpenSsh);

    const second = await loadOrCreateSshKey(path);
    assert.equal(second.created, false);
    assert.ok(second.privateKey.equals(first.privateKey));
    assert.equal(second.publicKeyOpenSsh, first.publicKeyOpenSsh);
  });

  test('flags a key file readable by group or others', async () => {
    const path = join(dir, 'loose');
    await loadOrCreateSshKey(path);
    await chmod(path, 0o644);
    const loaded = await loadOrCreateSshKey(path);
    assert.equal(loaded.permissionsTooOpen, true);
  });

  test('refuses a file that holds no key', async () => {
    const path = join(dir, 'garbage');
    await writeFile(path, 'not a key\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateSshKey(path), SshCredentialsError);
  });
});

describe('readPasswordFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-password-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('drops the trailing newline but keeps other whitespace', async () => {
    const path = join(dir, 'password');
    await writeFile(path, ' s3cret \r\n');
    assert.equal(await readPasswordFile(path), ' s3cret ');
  });

  test('refuses an empty password file', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '\n');
    await assert.rejects(readPasswordFile(path), SshCredentialsError);
  });
});
