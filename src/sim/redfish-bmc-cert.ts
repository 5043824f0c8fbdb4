// The fake Redfish BMC's TLS identity: a private CA and a certificate for
// 127.0.0.1/localhost it signs, made in memory like a BMC's factory certificate,
// which no system root trusts.
import { createHash } from 'node:crypto';
import { createLoopbackCa, toPem } from '../lib/index.ts';

export interface BmcCertificate {
  /** PEM of the issuing CA (what `{ caCertificate }` trusts). */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the served certificate as `SHA256:AA:BB:…` (what `{ fingerprint }` pins). */
  readonly fingerprint: string;
}

export async function createBmcCertificate(name = 'fake Redfish BMC'): Promise<BmcCertificate> {
  const { caDer, serverDer: leafDer, serverPrivateKey } = await createLoopbackCa({
    caName: { commonName: `${name} CA`, organization: 'bmaas sim' },
    organization: 'bmaas sim',
    ipAddresses: ['127.0.0.1'],
  });
  const hex = createHash('sha256').update(leafDer).digest('hex').toUpperCase();
  return {
    caPem: toPem(caDer, 'CERTIFICATE'),
    certPem: toPem(leafDer, 'CERTIFICATE'),
    keyPem: serverPrivateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    fingerprint: `SHA256:${hex.match(/../g)!.join(':')}`,
  };
}
