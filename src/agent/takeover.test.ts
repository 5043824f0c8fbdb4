import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeTakeoverInit } from '../proto/index.ts';
import { privateKeyFromPem, rawPublicKey } from './agent-identity.ts';
import { readAgentState } from './agent-state.ts';
import { readBounded, takeover, TakeoverError } from './takeover.ts';

describe('takeover', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const d = await mkdtemp(path.join(os.tmpdir(), 'bmaas-agent-'));
    dirs.push(d);
    return path.join(d, 'state');
  }

  it('persists the state with mode 0600, starts the daemon and answers with the init echoed and the 32-byte key', async () => {
    const stateDir = await tempDir();
    let started = 0;
    const init = { machineId: '6b0e6a43-58a8-4c2a-8b51-0d7b1c4f2a10', bmaasEndpoint: '127.0.0.1:8080', caCertificate: new Uint8Array([1, 2, 3]) };
    const res = await takeover(encodeTakeoverInit(init), { stateDir, startDaemon: () => void started++ });
    assert.equal(res.result.case, 'success');
    const success = res.result.value;
    assert.equal(success.initMessage?.machineId, init.machineId);
    assert.equal(success.initMessage.bmaasEndpoint, init.bmaasEndpoint);
    assert.deepEqual(success.initMessage.caCertificate, init.caCertificate);
    assert.equal(success.key.length, 32);
    assert.equal(started, 1);

    const state = await readAgentState(stateDir);
    assert.equal(state.machineId, init.machineId);
    assert.equal(state.endpoint, init.bmaasEndpoint);
    assert.deepEqual(state.caCertificate, init.caCertificate);
    const key = privateKeyFromPem(state.privateKeyPem);
    assert.deepEqual(rawPublicKey(key), success.key);
    assert.equal(createPublicKey(key).asymmetricKeyType, 'ed25519');
    const mode = (await stat(path.join(stateDir, 'agent-state.json'))).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  it('refuses an empty endpoint with a TakeoverError and starts nothing', async () => {
    const stateDir = await tempDir();
    let started = 0;
    const res = await takeover(encodeTakeoverInit({ machineId: 'm', bmaasEndpoint: '' }), { stateDir, startDaemon: () => void started++ });
    assert.equal(res.result.case, 'error');
    assert.match(res.result.value.message, /empty BMaaS endpoint/);
    assert.equal(started, 0);
  });

  it('answers malformed input with a TakeoverError', async () => {
    const res = await takeover(new Uint8Array([0xff, 0xff, 0xff]), { stateDir: await tempDir(), startDaemon: () => {} });
    assert.equal(res.result.case, 'error');
  });

  it('a daemon that cannot be started fails the takeover', async () => {
    const res = await takeover(encodeTakeoverInit({ machineId: 'm', bmaasEndpoint: 'h:1' }), {
      stateDir: await tempDir(),
      startDaemon: () => {
        throw new Error('spawn ENOENT');
      },
    });
    assert.equal(res.result.case, 'error');
    assert.match(res.result.value.message, /spawn ENOENT/);
  });

  it('reads stdin up to a bound', async () => {
    async function* chunks(n: number) {
      for (let i = 0; i < n; i++) yield new Uint8Array(1024);
    }
    assert.equal((await readBounded(chunks(4), 4096)).length, 4096);
    await assert.rejects(readBounded(chunks(5), 4096), TakeoverError);
  });
});
