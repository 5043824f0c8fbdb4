import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../proto/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { SIM_DISK_BYTES, simImageInstaller } from './sim-disks.ts';

describe('simulated disks', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  const image = randomBytes(300_000);
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-sim-disks-'));
    server = http.createServer((_req, res) => res.end(image)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/os.img`;
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const install = (targetDevice: string) =>
    simImageInstaller(dir).install(create(OSInstallationRequestSchema, { generation: 1n, type: { case: 'image', value: { url, sha256: createHash('sha256').update(image).digest(), targetDevice } } }), { signal: AbortSignal.timeout(10_000), logger: silentLogger() });

  it('writes /dev/<name> to a sparse file in the machine directory with the real installer', async () => {
    await install('/dev/vda');
    const file = path.join(dir, 'disks', 'vda');
    assert.equal((await stat(file)).size, SIM_DISK_BYTES);
    const fh = await open(file, 'r');
    const head = Buffer.alloc(image.length);
    await fh.read(head, 0, image.length, 0);
    await fh.close();
    assert.deepEqual(head, image);
  });

  it('refuses anything but /dev/<name>', async () => {
    await assert.rejects(install('/dev/../etc/passwd'), /disks \/dev\/<name> only/);
    await assert.rejects(install('/tmp/x'), /disks \/dev\/<name> only/);
  });
});
