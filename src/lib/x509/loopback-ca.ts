// A private CA and a server certificate it signs for localhost and loopback
// addresses: what a development server or a simulated BMC presents, which no
// system root trusts (clients pin the CA or the certificate).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCertificate, type DistinguishedName } from './certificate.ts';

export interface LoopbackCa {
  readonly caDer: Buffer;
  readonly caPrivateKey: KeyObject;
  readonly serverDer: Buffer;
  readonly serverPrivateKey: KeyObject;
}

export interface LoopbackCaOptions {
  readonly caName: DistinguishedName;
  /** Organization of the server certificate (its common name is `localhost`). */
  readonly organization: string;
  /** Loopback addresses in the server certificate besides the name `localhost`. */
  readonly ipAddresses: readonly string[];
  /** Default: the library's. */
  readonly notAfter?: Date;
}

/** Creates a P-256 CA and a `localhost` server certificate signed by it. */
export async function createLoopbackCa(o: LoopbackCaOptions): Promise<LoopbackCa> {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caDer = await createCertificate({ subject: o.caName, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
  const serverDer = await createCertificate({
    subject: { commonName: 'localhost', organization: o.organization },
    publicKey: server.publicKey,
    signingKey: ca.privateKey,
    issuer: o.caName,
    issuerPublicKey: ca.publicKey,
    serverAuth: true,
    dnsNames: ['localhost'],
    ipAddresses: o.ipAddresses,
    ...(o.notAfter ? { notAfter: o.notAfter } : {}),
  });
  return { caDer, caPrivateKey: ca.privateKey, serverDer, serverPrivateKey: server.privateKey };
}
