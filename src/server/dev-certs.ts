// `bmaas server --dev-certs`: a local CA and a server certificate for
// 127.0.0.1/localhost, created once and reused, so agents taken over with
// the CA keep trusting the server across restarts.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLoopbackCa, toPem } from '../lib/index.ts';

export const DEFAULT_DEV_CERTS_DIR = '.bmaas/dev-certs';

export interface DevCertificates {
  readonly dir: string;
  readonly caCertPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** The CA certificate as DER, what TakeoverInit.ca_certificate carries. */
  readonly caCertificateDer: Buffer;
  readonly cert: string;
  readonly key: string;
  /** Whether this call created them (false: reused). */
  readonly created: boolean;
}

const CA_NAME = { commonName: 'bmaas development CA', organization: 'bmaas' };

async function writePrivate(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, file);
}

async function readExisting(dir: string, signal?: AbortSignal): Promise<Omit<DevCertificates, 'created'> | undefined> {
  const caCertPath = path.join(dir, 'ca.pem');
  const certPath = path.join(dir, 'server.pem');
  const keyPath = path.join(dir, 'server-key.pem');
  try {
    const [caPem, cert, key] = await Promise.all([readFile(caCertPath, { encoding: 'utf8', signal }), readFile(certPath, { encoding: 'utf8', signal }), readFile(keyPath, { encoding: 'utf8', signal })]);
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(cert);
    // Renew a day before it runs out rather than serve an expired certificate.
    if (new Date(leaf.validTo).getTime() < Date.now() + 24 * 3600 * 1000 || !leaf.checkIssued(ca) || !leaf.checkPrivateKey(createPrivateKey(key))) return undefined;
    return { dir, caCertPath, certPath, keyPath, caCertificateDer: ca.raw, cert, key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Loads the development certificates under `dir`, creating them if missing or unusable. */
export async function ensureDevCertificates(dir: string, opts: { signal?: AbortSignal } = {}): Promise<DevCertificates> {
  const abs = path.resolve(dir);
  const existing = await readExisting(abs, opts.signal);
  if (existing) return { ...existing, created: false };
  await mkdir(abs, { recursive: true, mode: 0o700 });
  const { caDer, caPrivateKey, serverDer: leafDer, serverPrivateKey } = await createLoopbackCa({
    caName: CA_NAME,
    organization: 'bmaas',
    ipAddresses: ['127.0.0.1', '::1'],
    notAfter: new Date(Date.now() + 2 * 365 * 24 * 3600 * 1000),
  });
  const caCertPath = path.join(abs, 'ca.pem');
  const certPath = path.join(abs, 'server.pem');
  const keyPath = path.join(abs, 'server-key.pem');
  const key = serverPrivateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = toPem(leafDer, 'CERTIFICATE');
  await writePrivate(path.join(abs, 'ca-key.pem'), caPrivateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await writePrivate(keyPath, key);
  await writeFile(path.join(abs, 'ca.der'), caDer);
  await writeFile(caCertPath, toPem(caDer, 'CERTIFICATE'));
  await writeFile(certPath, cert);
  return { dir: abs, caCertPath, certPath, keyPath, caCertificateDer: caDer, cert, key, created: true };
}
