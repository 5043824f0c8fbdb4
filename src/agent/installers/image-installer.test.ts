import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../../proto/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ensureDevCertificates } from '../../server/index.ts';
import { imageInstaller, ImageInstallError } from './index.ts';

describe('image installer', () => {
  let dir: string;
  let server: https.Server;
  let base: string;
  let ca: Buffer;
  const image = randomBytes(256 * 1024 + 17);
  const sha = createHash('sha256').update(image).digest('hex');

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-image-'));
    const certs = await ensureDevCertificates(path.join(dir, 'certs'));
    ca = certs.caCertificateDer;
    server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      if (req.url === '/os.img') res.writeHead(200).end(image);
      else res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const install = async (bundleUrl: string, rootDevice: string) => {
    const request = create(OSInstallationRequestSchema, { generation: 1n, type: { case: 'metropolis', value: { bundleUrl, rootDevice } } });
    await imageInstaller({ caCertificate: ca, deviceDir: dir }).install(request, { signal: AbortSignal.timeout(10_000), logger: silentLogger() });
  };

  it('writes the verified image to the root device, resolved under the device directory', async () => {
    await writeFile(path.join(dir, 'vda'), Buffer.alloc(1024 * 1024));
    await install(`${base}/os.img#sha256=${sha}`, 'vda');
    const written = await readFile(path.join(dir, 'vda'));
    assert.deepEqual(written.subarray(0, image.length), image);
  });

  it('refuses an image whose SHA-256 differs and leaves the device untouched', async () => {
    const device = path.join(dir, 'vdb');
    await writeFile(device, Buffer.alloc(4096, 7));
    await assert.rejects(install(`${base}/os.img#sha256=${'0'.repeat(64)}`, device), (err: Error) => err instanceof ImageInstallError && /SHA-256/.test(err.message));
    assert.deepEqual(await readFile(device), Buffer.alloc(4096, 7));
  });

  it('refuses plain HTTP, a missing digest and an HTTP error', async () => {
    await assert.rejects(install(`http://127.0.0.1/os.img#sha256=${sha}`, 'vda'), /https/);
    await assert.rejects(install(`${base}/os.img`, 'vda'), /sha256/);
    await assert.rejects(install(`${base}/missing.img#sha256=${sha}`, 'vda'), /HTTP 404/);
  });
});
