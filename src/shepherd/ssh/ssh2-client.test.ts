import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeSshServer } from '../../../test/ssh-fake-server.ts';
import type { FakeSshServer } from '../../../test/ssh-fake-server.ts';
import {
  HostKeyMismatchError,
  Ssh2Client,
  SshAuthError,
  SshOutputTooLargeError,
  SshTimeoutError,
  withSshSession,
} from './index.ts';
import type { HostKey, SshDialOptions } from './index.ts';
import { generateEd25519KeyPair } from '../../lib/ssh-keygen.ts';


const client = new Ssh2Client();
const keyPair = generateEd25519KeyPair();
const insecure = { mode: 'insecure-ignore' } as const;

function passwordOptions(extra: Partial<SshDialOptions> = {}): SshDialOptions {
  return { username: 'root', auth: { password: 'hunter2' }, connectTimeoutMs: 2000, hostKey: insecure, ...extra };
}

describe('Ssh2Client against the in-process fake server', () => {
  let server: FakeSshServer;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-ssh-test-'));
    server = await startFakeSshServer({
      password: 'hunter2',
      authorizedKey: keyPair.public,
      exec: (command, stdin) => {
        if (command === 'echo') return { stdout: stdin, stderr: `got ${stdin.length} bytes\n`, exitCode: 3 };
        if (command === 'flood') return { stdout: Buffer.alloc(4096, 'x') };
        if (command === 'hang') return new Promise(() => {});
        return { stderr: 'unknown command\n', exitCode: 127 };
      },
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('password auth connects', async () => {
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    const result = await conn.exec('echo', { stdin: Buffer.from('hi') });
    assert.equal(result.stdout.toString(), 'hi');
  });

  test('a wrong password fails with SshAuthError', async () => {
    await assert.rejects(
      client.dial({ address: server.address }, passwordOptions({ auth: { password: 'wrong' } })),
      SshAuthError,
    );
  });

  test('key auth connects with an OpenSSH private key', async () => {
    await using conn = await client.dial(
      { address: server.address },
      passwordOptions({ auth: { privateKey: Buffer.from(keyPair.private) } }),
    );
    const result = await conn.exec('echo', { stdin: Buffer.from('key') });
    assert.equal(result.stdout.toString(), 'key');
  });

  test('upload writes the content and leaves the file mode 0755', async () => {
    const local = join(dir, 'agent');
    const content = Buffer.alloc(300_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 251;
    await writeFile(local, content, { mode: 0o600 });
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    await conn.upload(local, '/root/agent');
    const file = server.files.get('/root/agent');
    assert.ok(file);
    assert.equal(file.mode, 0o755);
    assert.ok(file.data.equals(content));
  });

  test('exec passes stdin and returns stdout, stderr and the exit code separately', async () => {
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    const result = await conn.exec('echo', { stdin: new Uint8Array([1, 2, 3]) });
    assert.deepEqual([...result.stdout], [1, 2, 3]);
    assert.equal(result.stderr.toString(), 'got 3 bytes\n');
    assert.equal(result.exitCode, 3);
    assert.equal(result.signal, undefined);
  });

  test('exec fails with SshOutputTooLargeError past maxOutputBytes', async () => {
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    await assert.rejects(conn.exec('flood', { maxOutputBytes: 1024 }), (err: unknown) => {
      assert.ok(err instanceof SshOutputTooLargeError);
      assert.equal(err.stream, 'stdout');
      return true;
    });
    // The connection stays usable after one command was cut off.
    assert.equal((await conn.exec('flood', { maxOutputBytes: 4096 })).stdout.length, 4096);
  });

  test('the exec timeout fires as SshTimeoutError when the remote command hangs', async () => {
    const started = Date.now();
    await assert.rejects(
      withSshSession(client, { address: server.address }, { ...passwordOptions(), execTimeoutMs: 300 }, (conn, signal) =>
        conn.exec('hang', { signal }),
      ),
      (err: unknown) => {
        assert.ok(err instanceof SshTimeoutError);
        assert.equal(err.kind, 'exec');
        return true;
      },
    );
    assert.ok(Date.now() - started < 2000);
  });

  test('withSshSession rejects with the caller\'s reason when the caller aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('shepherd stopping');
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(
      withSshSession(
        client,
        { address: server.address },
        { ...passwordOptions({ signal: controller.signal }), execTimeoutMs: 10_000 },
        (conn, signal) => conn.exec('hang', { signal }),
      ),
      (err: unknown) => err === reason,
    );
  });

  test('withSshSession returns the exchange result and closes the connection', async () => {
    const out = await withSshSession(
      client,
      { address: server.address },
      { ...passwordOptions(), execTimeoutMs: 5000 },
      async (conn, signal) => (await conn.exec('echo', { stdin: Buffer.from('ok'), signal })).stdout.toString(),
    );
    assert.equal(out, 'ok');
  });

  test('the verify policy sees the server key with its OpenSSH fingerprint', async () => {
    const seen: HostKey[] = [];
    const hostKey = { mode: 'verify', check: async (key: HostKey) => void seen.push(key) } as const;
    await using _conn = await client.dial({ address: server.address }, passwordOptions({ hostKey }));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.fingerprint, server.hostKey.fingerprint);
    assert.match(seen[0]?.fingerprint ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(seen[0]?.algorithm, 'ssh-ed25519');
    assert.ok(seen[0]?.raw.equals(server.hostKey.raw));
  });

  test('a refused host key fails with HostKeyMismatchError naming the fingerprint', async () => {
    const refusal = new Error('not the key we remember');
    const hostKey = { mode: 'verify', check: async () => Promise.reject(refusal) } as const;
    await assert.rejects(client.dial({ address: server.address }, passwordOptions({ hostKey })), (err: unknown) => {
      assert.ok(err instanceof HostKeyMismatchError);
      assert.equal(err.cause, refusal);
      assert.ok(err.message.includes(server.hostKey.fingerprint));
      assert.match(err.message, /changed or was refused/);
      return true;
    });
  });

  test('insecure-ignore connects whatever the host key, even after it changed', async () => {
    const before = server.hostKey.fingerprint;
    server.replaceHostKey();
    assert.notEqual(server.hostKey.fingerprint, before);
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    assert.equal((await conn.exec('echo', { stdin: Buffer.from('x') })).exitCode, 3);
  });
});

describe('Ssh2Client with a streaming fake exec', () => {
  test('collects chunked output and reports a command that died of a signal', async () => {
    await using server = await startFakeSshServer({
      password: 'hunter2',
      execStream: (_command, channel) => {
        channel.write('part one, ');
        setTimeout(() => {
          channel.write('part two');
          channel.stderr.write('dying\n');
          channel.exit('TERM', false, 'terminated');
          channel.end();
        }, 20);
      },
    });
    await using conn = await client.dial({ address: server.address }, passwordOptions());
    const result = await conn.exec('anything');
    assert.equal(result.stdout.toString(), 'part one, part two');
    assert.equal(result.stderr.toString(), 'dying\n');
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGTERM');
    assert.deepEqual(
      server.execs.map((e) => e.command),
      ['anything'],
    );
  });
});

describe('Ssh2Client connect timeout', () => {
  test('fires against a port that accepts TCP but never speaks SSH', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      await assert.rejects(
        client.dial({ address: `127.0.0.1:${port}` }, passwordOptions({ connectTimeoutMs: 300 })),
        (err: unknown) => {
          assert.ok(err instanceof SshTimeoutError);
          assert.equal(err.kind, 'connect');
          return true;
        },
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1500, `took ${elapsed} ms`);
      assert.ok(sockets.size >= 1, 'the TCP connection was made');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('withSshSession reports the connect timeout, not the exec timeout, for a silent port', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      await assert.rejects(
        withSshSession(
          client,
          { address: `127.0.0.1:${port}` },
          { ...passwordOptions({ connectTimeoutMs: 200 }), execTimeoutMs: 5000 },
          async () => assert.fail('the exchange must not run'),
        ),
        (err: unknown) => err instanceof SshTimeoutError && err.kind === 'connect' && err.timeoutMs === 200,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('an aborted signal rejects the dial with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    controller.abort(reason);
    await assert.rejects(
      client.dial({ address: '127.0.0.1:1' }, passwordOptions({ signal: controller.signal })),
      (err: unknown) => err === reason,
    );
  });
});
