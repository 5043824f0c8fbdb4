// The target checks against the real kernel: a loop device with a mounted
// ext4 filesystem, then the same device unmounted and written. Needs root,
// losetup, mkfs.ext4 and mount; skipped (saying why) without them. The root
// filesystem's device is only ever checked, never written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../../proto/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { checkTargetDevice, imageInstaller, TargetRefusedError } from './index.ts';

const run = promisify(execFile);

/** Why this machine cannot run the suite, or undefined when a loop device can be attached here. */
async function loopDevicesUsable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  const probe = await mkdtemp(path.join(os.tmpdir(), 'bmaas-loop-probe-'));
  try {
    await run('mkfs.ext4', ['-V']);
    await writeFile(path.join(probe, 'disk'), Buffer.alloc(1024 * 1024));
    const dev = (await run('losetup', ['--find', '--show', path.join(probe, 'disk')])).stdout.trim();
    await run('losetup', ['--detach', dev]);
    return undefined;
  } catch (err) {
    return `needs losetup, mkfs.ext4 and a free loop device (${(err as Error).message.split('\n')[0]})`;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

const skip = await loopDevicesUsable();

describe('image installer on a loop device', { skip }, () => {
  let dir: string;
  let backing: string;
  let loop: string | undefined;
  let mountPoint: string;
  let mounted = false;
  let server: http.Server;
  let url: string;
  const image = randomBytes(2 * 1024 * 1024 + 5);
  const sha256 = createHash('sha256').update(image).digest();

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-loop-'));
    backing = path.join(dir, 'disk.img');
    mountPoint = path.join(dir, 'mnt');
    await mkdir(mountPoint);
    await writeFile(backing, Buffer.alloc(16 * 1024 * 1024));
    loop = (await run('losetup', ['--find', '--show', backing])).stdout.trim();
    server = http.createServer((_req, res) => res.writeHead(200, { 'content-length': image.length }).end(image));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/os.img`;
  });
  after(async () => {
    server?.close();
    if (mounted) await run('umount', [mountPoint]).catch(() => {});
    if (loop) await run('losetup', ['--detach', loop]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const install = (targetDevice: string, allowFiles = false) =>
    imageInstaller({ allowFiles }).install(create(OSInstallationRequestSchema, { generation: 1n, type: { case: 'image', value: { url, sha256, targetDevice } } }), { signal: AbortSignal.timeout(20_000), logger: silentLogger() });

  it('refuses the device holding the running root filesystem (checked only)', async (t) => {
    const root = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' - ')).find(([left]) => left?.split(' ')[4] === '/');
    const source = root?.[1]?.split(' ')[1];
    if (!source?.startsWith('/dev/')) return t.skip(`the root filesystem's source is ${source ?? 'unknown'}, not a device`);
    await assert.rejects(checkTargetDevice(source), (err: Error) => err instanceof TargetRefusedError && /holds the running root filesystem/.test(err.message));
  });

  it('refuses the loop device while its ext4 filesystem is mounted, and its backing file too', async () => {
    await run('mkfs.ext4', ['-q', loop!]);
    await run('mount', [loop!, mountPoint]);
    mounted = true;
    await assert.rejects(install(loop!), new RegExp(`^TargetRefusedError: refusing to write ${loop}: it holds a mounted filesystem \\(ext4 ${loop} at ${mountPoint}\\)$`));
    await assert.rejects(install(backing, true), new RegExp(`refusing to write ${backing} \\(loop device ${loop} backed by ${backing}\\): it holds a mounted filesystem`));
  });

  it('writes, syncs and verifies the image on the unmounted loop device (opened with O_EXCL)', async () => {
    if (mounted) {
      await run('umount', [mountPoint]);
      mounted = false;
    }
    await install(loop!);
    const disk = await readFile(backing);
    assert.deepEqual(createHash('sha256').update(disk.subarray(0, image.length)).digest(), sha256);
  });
});
