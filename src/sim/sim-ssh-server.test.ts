// The simulated machines' SSH endpoint answers without Nagle delays: a
// takeover's upload and exec are many small request/reply messages, and with
// Nagle's algorithm on the server each reply waited for the client's delayed
// ACK (40 ms on Linux), which made one takeover take 0.7 s instead of 40 ms.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateEd25519KeyPair } from '../lib/ssh-keygen.ts';
import { Ssh2Client } from '../shepherd/ssh/index.ts';
import { startSimSshServer, type SimSshServer } from './sim-ssh-server.ts';

const ROUNDS = 7;

describe('simulated SSH server', () => {
  const login = generateEd25519KeyPair();
  let server: SimSshServer;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-sim-ssh-'));
    await writeFile(path.join(dir, 'agent'), '#!/bin/sh\nexit 0\n');
    server = await startSimSshServer({
      hostKey: generateEd25519KeyPair().private,
      authorizedKey: login.public,
      exec: async (command, stdin, files) => ({ stdout: Buffer.from(`${files.has(command) ? 'ran' : 'missing'} ${stdin.length}`), exitCode: 0 }),
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads and runs in far less than one delayed ACK per message', async () => {
    const client = new Ssh2Client();
    await using conn = await client.dial({ address: server.address }, { username: 'root', auth: { privateKey: Buffer.from(login.private) }, hostKey: { mode: 'insecure-ignore' }, connectTimeoutMs: 10_000 });
    const took: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      await conn.upload(path.join(dir, 'agent'), '/root/agent');
      const result = await conn.exec('/root/agent', { stdin: Buffer.from('init') });
      took.push(performance.now() - started);
      assert.equal(result.stdout.toString(), 'ran 4');
    }
    // Upload and exec wait for about ten replies: with Nagle on the server each
    // waited for a delayed ACK, at least 400 ms in all (measured 500 to 600 ms);
    // without, a few milliseconds. A busy machine slows rounds down, never
    // below that floor, so the fastest round tells the two apart.
    const fastest = Math.min(...took);
    assert.ok(fastest < 250, `the fastest upload + exec took ${fastest.toFixed(0)} ms (all: ${took.map((t) => t.toFixed(0)).join(', ')})`);
  });
});
