import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSshd, startSshd } from '../../../test/sshd.ts';
import type { Sshd } from '../../../test/sshd.ts';
import { HostKeyMismatchError, loadOrCreateSshKey, Ssh2Client, SshTimeoutError, withSshSession } from './index.ts';
import type { HostKey, HostKeyPolicy, LoadedSshKey, SshDialOptions } from './index.ts';

/** Trust on first use, the way the shepherd's store will do it. */
function rememberFirstKey(): HostKeyPolicy & { seen: string[] } {
  let remembered: string | undefined;
  const seen: string[] = [];
  return {
    mode: 'verify',
    seen,
    async check(key: HostKey) {
      seen.push(key.fingerprint);
      remembered ??= key.fingerprint;
      if (key.fingerprint !== remembered) throw new Error(`expected ${remembered}`);
    },
  };
}

// Without sshd this is skipped on a developer machine and fails under CI=true.
describeSshd('Ssh2Client against a real OpenSSH server', () => {
  const client = new Ssh2Client();
  let sshd: Sshd;
  let dir: string;
  let key: LoadedSshKey;
  const options = (extra: Partial<SshDialOptions> = {}): SshDialOptions => ({
    username: sshd.user,
    auth: { privateKey: key.privateKey },
    connectTimeoutMs: 5000,
    hostKey: { mode: 'insecure-ignore' },
    ...extra,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-sshd-test-'));
    key = await loadOrCreateSshKey(join(dir, 'id_ed25519'));
    sshd = await startSshd({
      listen: [{ host: '127.0.0.2' }, { host: '127.0.0.3' }],
      authorizedKey: key.publicKeyOpenSsh,
    });
  });
  after(async () => {
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('key auth logs in as the current user', async () => {
    await using conn = await client.dial({ address: sshd.addresses[0] ?? '' }, options());
    const result = await conn.exec('id -un');
    assert.equal(result.stdout.toString().trim(), sshd.user, sshd.log());
    assert.equal(result.exitCode, 0);
  });

  test('each listen address is reachable as host:port', async () => {
    assert.equal(sshd.addresses.length, 2);
    for (const endpoint of sshd.endpoints) {
      await using conn = await client.dial({ address: `${endpoint.host}:${endpoint.port}` }, options());
      assert.equal((await conn.exec('true')).exitCode, 0);
    }
  });

  test('an uploaded script is 0755 and runs with stdin, stdout and stderr apart', async () => {
    const local = join(dir, 'agent.sh');
    const script = '#!/bin/sh\ncat\necho "agent says hello" >&2\nexit 7\n';
    await writeFile(local, script, { mode: 0o600 });
    const remote = join(dir, 'remote-agent');
    // An existing file with other permissions: the explicit chmod must still apply.
    await writeFile(remote, 'old', { mode: 0o600 });
    await using conn = await client.dial({ address: sshd.addresses[1] ?? '' }, options());
    await conn.upload(local, remote);
    assert.equal((await stat(remote)).mode & 0o777, 0o755);
    assert.equal(await readFile(remote, 'utf8'), script);
    const stdin = Buffer.from([0x08, 0x96, 0x01, 0x00, 0xff]);
    const result = await conn.exec(remote, { stdin });
    assert.ok(result.stdout.equals(stdin));
    assert.equal(result.stderr.toString(), 'agent says hello\n');
    assert.equal(result.exitCode, 7);
  });

  test('a command killed by a signal reports the signal and no exit code', async () => {
    await using conn = await client.dial({ address: sshd.addresses[0] ?? '' }, options());
    const result = await conn.exec('kill -KILL $$');
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
  });

  test('the exec timeout stops a hanging remote command', async () => {
    const started = Date.now();
    await assert.rejects(
      withSshSession(client, { address: sshd.addresses[0] ?? '' }, { ...options(), execTimeoutMs: 700 }, (conn, signal) =>
        // Writes until the closed channel's SIGPIPE ends it: OpenSSH does not
        // deliver KILL to root sessions, and a silent sleep would outlive the test.
        conn.exec('while sleep 0.1; do echo waiting; done', { signal }),
      ),
      (err: unknown) => err instanceof SshTimeoutError && err.kind === 'exec',
    );
    assert.ok(Date.now() - started < 3000);
  });

  test('after the host key is regenerated a policy that remembers the first key refuses', async () => {
    const policy = rememberFirstKey();
    const address = sshd.addresses[0] ?? '';
    {
      await using _conn = await client.dial({ address }, options({ hostKey: policy }));
    }
    assert.deepEqual(policy.seen, [sshd.hostKeyFingerprint]);
    const first = sshd.hostKeyFingerprint;
    await sshd.regenerateHostKey();
    assert.notEqual(sshd.hostKeyFingerprint, first);
    await assert.rejects(client.dial({ address }, options({ hostKey: policy })), (err: unknown) => {
      assert.ok(err instanceof HostKeyMismatchError);
      assert.equal(err.fingerprint, sshd.hostKeyFingerprint);
      assert.ok(err.message.includes(sshd.hostKeyFingerprint));
      return true;
    });
  });
});
