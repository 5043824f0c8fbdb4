// The image installer (docs/architecture.md#image-installation): streams a raw disk image
// from its URL straight onto the target device, hashing as it goes (no copy
// of the whole image anywhere else), fsyncs, reads the written range back and
// checks its SHA-256 once more, then runs the optional post-install command.
// The checks of target-device.ts come first, and a block device is opened with
// O_EXCL, so the kernel refuses it too while anything has it mounted or held.
// Once a byte was written, any failure zeroes the start of the device, so a
// machine that reboots later does not boot a partial or wrong image.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, type promises as fsp } from 'node:fs';
import { open } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { toPem } from '../../lib/index.ts';
import type { ImageInstallationRequest } from '../../proto/index.ts';
import { ImageInstallError } from './errors.ts';
import { IMAGE_INSTALL_DEFAULTS } from './image-installer-options.ts';
import type { InstallProgress, Installer } from './installer.ts';
import { checkTargetDevice, type SystemView } from './target-device.ts';

export interface ImageInstallerOptions extends SystemView {
  /** Extra CA (DER) trusted for https downloads besides the system roots, e.g. the agent's CA. */
  readonly caCertificate?: Uint8Array;
  /** Accept a regular file as the target (tests, loop-back files); default false: block devices only. */
  readonly allowFiles?: boolean;
  /** Longest run of the post-install command; default IMAGE_INSTALL_DEFAULTS.postInstallTimeoutMs. */
  readonly postInstallTimeoutMs?: number;
}

interface Checked {
  readonly url: URL;
  readonly sha256: string;
  readonly device: string;
  readonly postInstallCommand: string;
}

function checkRequest(r: ImageInstallationRequest): Checked {
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    throw new ImageInstallError(`image URL ${JSON.stringify(r.url)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ImageInstallError(`image URL ${url.href} must be http or https`);
  if (r.sha256.length !== 32) throw new ImageInstallError(`the request's SHA-256 is ${r.sha256.length} bytes, not 32`);
  if (!r.targetDevice) throw new ImageInstallError('the request names no target device');
  return { url, sha256: Buffer.from(r.sha256).toString('hex'), device: r.targetDevice, postInstallCommand: r.postInstallCommand };
}

function get(url: URL, ca: string[], signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new ImageInstallError(`GET ${url.href}: HTTP ${res.statusCode}`));
        return;
      }
      resolve(res);
    };
    const req = url.protocol === 'https:' ? https.get(url, { ca, signal }, onResponse) : http.get(url, { signal }, onResponse);
    req.on('error', (err) => reject(new ImageInstallError(`GET ${url.href}: ${err.message}`, { cause: err })));
  });
}

async function openTarget(device: string, kind: 'block' | 'file'): Promise<fsp.FileHandle> {
  // O_EXCL without O_CREAT on a block device: the kernel's own exclusive open,
  // which fails with EBUSY while a filesystem, swap or mapping uses it.
  const flags = constants.O_RDWR | (kind === 'block' ? constants.O_EXCL : 0);
  return open(device, flags).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'EBUSY' ? 'it is in use (the kernel refused an exclusive open: EBUSY)' : (err.code ?? err.message);
    throw new ImageInstallError(`cannot open target device ${device}: ${why}`, { cause: err });
  });
}

const WIPE_BYTES = 1024 * 1024;

/** Zeroes the start of the device after a failed write, so nothing boots from it. */
async function wipeStart(fh: fsp.FileHandle, written: number): Promise<string> {
  const n = Math.min(WIPE_BYTES, written);
  try {
    await fh.write(Buffer.alloc(n), 0, n, 0);
    await fh.sync();
    return `the first ${n} bytes of the device were zeroed so it does not boot a partial image`;
  } catch (err) {
    return `zeroing the start of the device failed too (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); do not boot from it`;
  }
}

/** Streams the download onto the device; returns the byte count and the stream's SHA-256. */
async function streamOnto(fh: fsp.FileHandle, res: IncomingMessage, capacity: number, report: (p: InstallProgress) => void): Promise<{ size: number; digest: string }> {
  const announced = Number(res.headers['content-length'] ?? 0);
  if (announced > capacity) throw new ImageInstallError(`the image is ${announced} bytes, the target holds only ${capacity}`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size + chunk.length > capacity) throw new ImageInstallError(`the image is larger than the target (${capacity} bytes)`);
    await fh.write(chunk, 0, chunk.length, size);
    hash.update(chunk);
    size += chunk.length;
    report({ stage: 'writing', bytesDone: size, bytesTotal: announced });
  }
  await fh.sync();
  return { size, digest: hash.digest('hex') };
}

/** Reads the written range back from the device and hashes it. */
async function readBack(fh: fsp.FileHandle, size: number, signal: AbortSignal, report: (p: InstallProgress) => void): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(4 * 1024 * 1024);
  for (let done = 0; done < size; ) {
    signal.throwIfAborted();
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - done), done);
    if (bytesRead === 0) throw new ImageInstallError(`the target ended after ${done} of ${size} bytes on reading back`);
    hash.update(buf.subarray(0, bytesRead));
    done += bytesRead;
    report({ stage: 'verifying', bytesDone: done, bytesTotal: size });
  }
  return hash.digest('hex');
}

function runPostInstall(command: string, env: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], signal, timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2048);
    });
    child.on('error', (err) => reject(new ImageInstallError(`post-install command could not run: ${err.message}`, { cause: err })));
    child.on('close', (code, sig) => {
      if (code === 0) return resolve();
      const how = sig ? `was stopped by ${sig}${sig === 'SIGTERM' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exited with ${code}`;
      reject(new ImageInstallError(`post-install command ${how}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

export function imageInstaller(opts: ImageInstallerOptions = {}): Installer {
  const ca = [...tls.rootCertificates, ...(opts.caCertificate?.length ? [toPem(opts.caCertificate, 'CERTIFICATE')] : [])];
  const postInstallTimeoutMs = opts.postInstallTimeoutMs ?? IMAGE_INSTALL_DEFAULTS.postInstallTimeoutMs;
  return {
    async install(request, { signal, logger, progress }) {
      if (request.type.case !== 'image') throw new ImageInstallError(`the image installer cannot carry out ${request.type.case ?? 'unknown'} requests`);
      const r = checkRequest(request.type.value);
      const report = progress ?? (() => {});
      const target = await checkTargetDevice(r.device, opts);
      const log = logger.child({ generation: String(request.generation), device: target.path });
      const fh = await openTarget(target.path, target.kind);
      let res: IncomingMessage | undefined;
      let written = 0;
      try {
        res = await get(r.url, ca, signal);
        log.info({ url: r.url.href, capacityBytes: target.capacityBytes }, 'streaming the image onto the target');
        try {
          const { size, digest } = await streamOnto(fh, res, target.capacityBytes, (p) => {
            written = p.bytesDone;
            report(p);
          });
          if (digest !== r.sha256) throw new ImageInstallError(`image SHA-256 mismatch: the ${size} bytes from ${r.url.href} hash to ${digest}, the request expects ${r.sha256}`);
          const back = await readBack(fh, size, signal, report);
          if (back !== r.sha256) throw new ImageInstallError(`${target.path} reads back with SHA-256 ${back} over ${size} bytes, not ${r.sha256}: the write did not stick`);
          log.info({ bytes: size }, 'image written and verified');
        } catch (err) {
          if (written === 0) throw err;
          const wiped = await wipeStart(fh, written);
          const message = err instanceof ImageInstallError ? err.message : `writing ${target.path} failed after ${written} bytes: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          throw new ImageInstallError(`${message}; ${wiped}`, { cause: err });
        }
      } finally {
        res?.destroy();
        await fh.close();
      }
      if (r.postInstallCommand) {
        report({ stage: 'post-install', bytesDone: written, bytesTotal: written });
        log.info('running the post-install command');
        await runPostInstall(r.postInstallCommand, { BMAAS_TARGET_DEVICE: target.path, BMAAS_IMAGE_URL: r.url.href, BMAAS_INSTALL_GENERATION: String(request.generation) }, postInstallTimeoutMs, signal);
      }
    },
  };
}
