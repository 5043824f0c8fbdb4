// The real installer: fetches a disk image over HTTPS, checks its SHA-256 and
// writes it to the requested root device. The digest travels in the URL
// fragment (`https://host/os.img#sha256=<hex>`): fragments are never sent to
// the server, and the wire message keeps its original fields.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { toPem } from '../../lib/index.ts';
import type { Installer } from './installer.ts';

export interface ImageInstallerOptions {
  /** Extra CA (DER) trusted for the download besides the system roots, e.g. the agent's CA. */
  readonly caCertificate?: Uint8Array;
  /** Where bare device names like `sda` live; default `/dev`. */
  readonly deviceDir?: string;
  /** Refuse images larger than this; default 64 GiB. */
  readonly maxBytes?: number;
}

/** Thrown for a request the installer cannot carry out; the message ends up in the error report. */
export class ImageInstallError extends Error {
  override readonly name = 'ImageInstallError';
}

function parseImageUrl(raw: string): { url: URL; sha256: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ImageInstallError(`bundle URL ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'https:') throw new ImageInstallError('bundle URL must use https');
  const m = /^#sha256=([0-9a-fA-F]{64})$/.exec(url.hash);
  if (!m) throw new ImageInstallError('bundle URL must end in #sha256=<64 hex digits> so the image can be verified');
  url.hash = '';
  return { url, sha256: m[1]!.toLowerCase() };
}

function get(url: URL, ca: string[], signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, signal }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new ImageInstallError(`GET ${url.href}: HTTP ${res.statusCode}`));
        return;
      }
      resolve(res);
    });
    req.on('error', (err) => reject(new ImageInstallError(`GET ${url.href}: ${err.message}`, { cause: err })));
  });
}

export function imageInstaller(opts: ImageInstallerOptions = {}): Installer {
  const ca = [...tls.rootCertificates, ...(opts.caCertificate?.length ? [toPem(opts.caCertificate, 'CERTIFICATE')] : [])];
  const maxBytes = opts.maxBytes ?? 64 * 1024 ** 3;
  return {
    async install(request, { signal, logger }) {
      if (request.type.case !== 'metropolis') throw new ImageInstallError(`cannot install ${request.type.case ?? 'unknown'} requests`);
      const { bundleUrl, rootDevice } = request.type.value;
      const { url, sha256 } = parseImageUrl(bundleUrl);
      if (!rootDevice) throw new ImageInstallError('installation request names no root device');
      const device = path.isAbsolute(rootDevice) ? rootDevice : path.join(opts.deviceDir ?? '/dev', rootDevice);
      // Download to a scratch file first: a corrupt image must never reach the disk.
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'bmaas-image-'));
      try {
        const file = path.join(scratch, 'image');
        const hash = createHash('sha256');
        let size = 0;
        const res = await get(url, ca, signal);
        await pipeline(
          res,
          new Transform({
            transform(chunk: Buffer, _enc, done) {
              size += chunk.length;
              if (size > maxBytes) return done(new ImageInstallError(`image is larger than ${maxBytes} bytes`));
              hash.update(chunk);
              done(null, chunk);
            },
          }),
          createWriteStream(file),
          { signal },
        );
        const got = hash.digest('hex');
        if (got !== sha256) throw new ImageInstallError(`image SHA-256 is ${got}, expected ${sha256}`);
        logger.info({ device, bytes: size }, 'image verified, writing it to the root device');
        // Open first so a missing device is a clear error, not a pipeline failure.
        await (await open(device, 'r+').catch((err: NodeJS.ErrnoException) => {
          throw new ImageInstallError(`cannot open root device ${device}: ${err.code ?? err.message}`, { cause: err });
        })).close();
        // flush: fsync before close, so the image is on the disk before we report success.
        await pipeline(createReadStream(file), createWriteStream(device, { flags: 'r+', flush: true }), { signal });
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
