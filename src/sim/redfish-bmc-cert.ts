// The fake Redfish BMC's TLS identity: a private CA and a certificate for
// 127.0.0.1/localhost it signs, made in memory like a BMC's factory certificate,
// which no system root trusts.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createCertificate, toPem } from '../lib/x509/index.ts';

export interface BmcCertificate {
  /** PEM of the issuing CA (what `{ caCertificate }` trusts). */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the served certificate as `SHA256:AA:BB:…` (what `{ fingerprint }` pins). */
  readonly fingerprint: string;
}

export async function createBmcCertificate(name = 'fake Redfish BMC'): Promise<BmcCertificate> {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = { commonName: `${name} CA`, organization: 'bmaas sim' };
  const caDer = await createCertificate({ subject: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
  const leafDer = await createCertificate({
    subject: { commonName: 'localhost', organization: 'bmaas sim' },
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    issuer: caName,
    issuerPublicKey: ca.publicKey,
    serverAuth: true,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const hex = createHash('sha256').update(leafDer).digest('hex').toUpperCase();
  return {
    caPem: toPem(caDer, 'CERTIFICATE'),
    certPem: toPem(leafDer, 'CERTIFICATE'),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    fingerprint: `SHA256:${hex.match(/../g)!.join(':')}`,
  };
}
