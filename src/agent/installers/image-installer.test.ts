import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../../proto/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ensureDevCertificates } from '../../server/index.ts';
import { imageInstaller, ImageInstallError, TargetRefusedError, type ImageInstallerOptions, type InstallProgress } from './index.ts';

const image = randomBytes(3 * 1024 * 1024 + 17);
const sha = createHash('sha256').update(image).digest();

function serve(handler: http.RequestListener, tls?: { cert: string; key: string }) {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({ server, base: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as { port: number }).port}` }));
}

const images: http.RequestListener = (req, res) => {
  if (req.url === '/os.img') res.writeHead(200, { 'content-length': image.length }).end(image);
  else if (req.url === '/chunked.img') res.writeHead(200).end(image);
  else res.writeHead(404).end();
};

describe('image installer', () => {
  let dir: string;
  let plain: { server: http.Server; base: string };
  let secure: { server: http.Server; base: string };
  let ca: Buffer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-image-'));
    const certs = await ensureDevCertificates(path.join(dir, 'certs'));
    ca = certs.caCertificateDer;
    plain = await serve(images);
    secure = await serve(images, { cert: certs.cert, key: certs.key });
  });
  after(async () => {
    plain.server.close();
    secure.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const install = async (value: { url: string; targetDevice: string; sha256?: Uint8Array; postInstallCommand?: string }, opts: ImageInstallerOptions = { allowFiles: true }) => {
    const progress: InstallProgress[] = [];
    const request = create(OSInstallationRequestSchema, { generation: 4n, type: { case: 'image', value: { sha256: sha, ...value } } });
    await imageInstaller({ caCertificate: ca, ...opts }).install(request, { signal: AbortSignal.timeout(20_000), logger: silentLogger(), progress: (p) => progress.push(p) });
    return progress;
  };
  const target = async (name: string, bytes = 4 * 1024 * 1024, fill = 0) => {
    const p = path.join(dir, name);
    await writeFile(p, Buffer.alloc(bytes, fill));
    return p;
  };

  it('streams the image onto the target over https, verifies it and reports writing then verifying', async () => {
    const device = await target('vda', 4 * 1024 * 1024, 9);
    const progress = await install({ url: `${secure.base}/os.img`, targetDevice: device });
    const written = await readFile(device);
    assert.deepEqual(written.subarray(0, image.length), image);
    assert.ok(written.subarray(image.length).every((b) => b === 9), 'bytes past the image stay as they were');
    assert.equal(written.length, 4 * 1024 * 1024, 'the target is never grown');
    assert.deepEqual(progress.at(-1), { stage: 'verifying', bytesDone: image.length, bytesTotal: image.length });
    assert.ok(progress.some((p) => p.stage === 'writing' && p.bytesTotal === image.length && p.bytesDone < image.length));
  });

  it('takes plain http too (the digest vouches for the image) and a download without a length', async () => {
    const device = await target('vdb');
    await install({ url: `${plain.base}/chunked.img`, targetDevice: device });
    assert.deepEqual((await readFile(device)).subarray(0, image.length), image);
  });

  it('fails a digest mismatch precisely and zeroes the start of the target so it does not boot', async () => {
    const device = await target('vdc', 4 * 1024 * 1024, 7);
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: device, sha256: new Uint8Array(32) }), (err: Error) => {
      assert.ok(err instanceof ImageInstallError);
      assert.match(err.message, new RegExp(`^image SHA-256 mismatch: the ${image.length} bytes from http://127\\.0\\.0\\.1:\\d+/os\\.img hash to ${sha.toString('hex')}, the request expects 0{64}; the first 1048576 bytes of the device were zeroed`));
      return true;
    });
    const after = await readFile(device);
    assert.ok(after.subarray(0, 1024 * 1024).every((b) => b === 0));
  });

  it('runs the post-install command with the target in its environment, and fails on its exit code with its stderr', async () => {
    const device = await target('vdd');
    const marker = path.join(dir, 'post-install.txt');
    await install({ url: `${plain.base}/os.img`, targetDevice: device, postInstallCommand: `echo "$BMAAS_TARGET_DEVICE $BMAAS_INSTALL_GENERATION" > ${marker}` });
    assert.equal(await readFile(marker, 'utf8'), `${device} 4\n`);
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: device, postInstallCommand: 'echo no efi vars >&2; exit 3' }), /^ImageInstallError: post-install command exited with 3: no efi vars$/);
  });

  it('refuses bad requests and targets before writing anything', async () => {
    const device = await target('vde', 1024 * 1024, 5);
    const untouched = async () => assert.ok((await readFile(device)).every((b) => b === 5));
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: device }, {}), (err: Error) => err instanceof TargetRefusedError && /is a regular file, not a block device/.test(err.message));
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: 'vde' }), /"vde" is not an absolute path/);
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: path.join(dir, 'nope') }), /nope does not exist/);
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: device }), /the image is 3145745 bytes, the target holds only 1048576/);
    await assert.rejects(install({ url: `${plain.base}/missing.img`, targetDevice: device }), /HTTP 404/);
    await assert.rejects(install({ url: `ftp://127.0.0.1/os.img`, targetDevice: device }), /must be http or https/);
    await assert.rejects(install({ url: `${plain.base}/os.img`, targetDevice: device, sha256: new Uint8Array(31) }), /SHA-256 is 31 bytes, not 32/);
    await untouched();
    await assert.rejects(install({ url: `${plain.base}/chunked.img`, targetDevice: device }), /the image is larger than the target \(1048576 bytes\); the first \d+ bytes of the device were zeroed/);
  });

  it('refuses a file backing a loop device that holds a mounted filesystem, the root filesystem, swap or a holder (same checks, a fake /proc and /sys)', async () => {
    const device = await target('vdf');
    const proc = path.join(dir, 'fake-proc');
    const sys = path.join(dir, 'fake-sys');
    await mkdir(path.join(proc, 'self'), { recursive: true });
    await mkdir(path.join(sys, 'block', 'loop7', 'loop'), { recursive: true });
    await mkdir(path.join(sys, 'block', 'loop7', 'holders'), { recursive: true });
    await writeFile(path.join(sys, 'block', 'loop7', 'loop', 'backing_file'), `${device}\n`);
    await writeFile(path.join(sys, 'block', 'loop7', 'dev'), '7:77\n');
    await writeFile(path.join(proc, 'swaps'), 'Filename\tType\tSize\tUsed\tPriority\n');
    const mountinfo = (line: string) => writeFile(path.join(proc, 'self', 'mountinfo'), `22 27 0:21 / /proc rw - proc proc rw\n${line}\n`);
    const check = () => install({ url: `${plain.base}/os.img`, targetDevice: device }, { allowFiles: true, procRoot: proc, sysRoot: sys });

    await mountinfo('45 27 7:77 / /mnt/data\\040disk rw,relatime - ext4 /dev/loop7 rw');
    await assert.rejects(check(), new RegExp(`^TargetRefusedError: refusing to write ${device} \\(loop device /dev/loop7 backed by ${device}\\): it holds a mounted filesystem \\(ext4 /dev/loop7 at /mnt/data disk\\)$`));
    await mountinfo('46 27 7:77 /etc/hosts /etc/hosts rw - ext4 /dev/loop7 rw\n27 1 7:77 / / rw,relatime - ext4 /dev/loop7 rw');
    await assert.rejects(check(), /it holds the running root filesystem \(\/dev\/loop7 mounted at \/\)/);
    await mountinfo('');
    await writeFile(path.join(sys, 'block', 'loop7', 'holders', 'dm-0'), '');
    await assert.rejects(check(), /loop device \/dev\/loop7 backed by .* is held by dm-0 \(device mapper, RAID or LVM\)/);
    await rm(path.join(sys, 'block', 'loop7', 'holders', 'dm-0'));
    await writeFile(path.join(proc, 'swaps'), `Filename\tType\tSize\tUsed\tPriority\n${device}\tfile\t4096\t0\t-2\n`);
    await assert.rejects(check(), /is in use as swap/);
    await writeFile(path.join(proc, 'swaps'), 'Filename\tType\tSize\tUsed\tPriority\n');
    await check();
  });
});
