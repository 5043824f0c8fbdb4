// X.509 v3 certificates for node:crypto keys, built by @peculiar/x509 over
// Node's WebCrypto: the few shapes bmaas needs (a development CA, a server
// certificate it signs, the agent's self-signed Ed25519 client certificate).
// Node can parse certificates but has no API to create them.
import { isIP } from 'node:net';
import type { KeyObject, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

let library: Promise<typeof X509> | undefined;

/**
 * The library, loaded on first use: it and its ASN.1 modules are more than half
 * of the agent's bundle and double its start-up, and only `run` makes a
 * certificate (once). The Reflect metadata polyfill has to be in place before it loads.
 */
function x509(): Promise<typeof X509> {
  library ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return library;
}

export interface DistinguishedName {
  readonly commonName: string;
  readonly organization?: string;
}

export interface CertificateOptions {
  readonly subject: DistinguishedName;
  /** The subject's public key. */
  readonly publicKey: KeyObject;
  /** Key that signs: the issuer's private key (the subject's own for a self-signed certificate). */
  readonly signingKey: KeyObject;
  /** Issuer name; default the subject (self-signed). */
  readonly issuer?: DistinguishedName;
  /** Issuer's public key, for the authority key identifier; default `publicKey`. */
  readonly issuerPublicKey?: KeyObject;
  /** Default an hour ago (tolerates clocks a little behind). */
  readonly notBefore?: Date;
  /** Default ten years after `notBefore`. */
  readonly notAfter?: Date;
  /** A certificate authority (may sign others) rather than an end entity. */
  readonly isCa?: boolean;
  /** Extended key usages; default none listed. */
  readonly serverAuth?: boolean;
  readonly clientAuth?: boolean;
  readonly dnsNames?: readonly string[];
  /** IPv4 or IPv6 addresses in their usual text form. */
  readonly ipAddresses?: readonly string[];
}

/** Thrown for keys this builder cannot sign with or certify. */
export class UnsupportedKeyError extends Error {
  override readonly name = 'UnsupportedKeyError';
}

/** Thrown when a subject alternative name is malformed (an IP address that is not one, an empty DNS name). */
export class InvalidSubjectNameError extends Error {
  override readonly name = 'InvalidSubjectNameError';
}

interface SigningAlgorithm {
  /** How WebCrypto imports the key. */
  readonly importAs: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  /** How WebCrypto signs with it (ECDSA names its digest here, not at import). */
  readonly sign: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams;
}

function signingAlgorithm(key: KeyObject): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return { importAs: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new UnsupportedKeyError(`only P-256 EC keys are supported, got ${key.asymmetricKeyDetails?.namedCurve}`);
      return { importAs: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'rsa':
      return { importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
    default:
      throw new UnsupportedKeyError(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  }
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Organization before common name, the usual order from the root of the name down. */
function jsonName(name: DistinguishedName): X509.JsonName {
  return [...(name.organization ? [{ O: [name.organization] }] : []), { CN: [name.commonName] }];
}

function alternativeNames(opts: CertificateOptions): X509.JsonGeneralName[] {
  const dns = (opts.dnsNames ?? []).map((value): X509.JsonGeneralName => {
    if (!/^[\x21-\x7e]+$/.test(value)) throw new InvalidSubjectNameError(`not a DNS name: ${JSON.stringify(value)}`);
    return { type: 'dns', value };
  });
  const ips = (opts.ipAddresses ?? []).map((value): X509.JsonGeneralName => {
    if (isIP(value) === 0) throw new InvalidSubjectNameError(`not an IP address: ${JSON.stringify(value)}`);
    return { type: 'ip', value };
  });
  return [...dns, ...ips];
}

function keyUsages({ KeyUsageFlags }: typeof X509, isCa: boolean, keyType: string | undefined): X509.KeyUsageFlags {
  if (isCa) return KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
  // RSA key exchange needs keyEncipherment; EC and Ed25519 keys only sign.
  return keyType === 'rsa' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
}

/**
 * Creates a DER-encoded certificate.
 * @throws UnsupportedKeyError for a signing key other than Ed25519, P-256 or RSA.
 * @throws InvalidSubjectNameError for a malformed DNS name or IP address.
 */
export async function createCertificate(opts: CertificateOptions): Promise<Buffer> {
  const lib = await x509();
  const isCa = opts.isCa ?? false;
  const algorithm = signingAlgorithm(opts.signingKey);
  const names = alternativeNames(opts);
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * 24 * 60 * 60 * 1000);
  const publicKey = spki(opts.publicKey);

  const extensions: X509.Extension[] = [
    new lib.BasicConstraintsExtension(isCa, undefined, true),
    new lib.KeyUsagesExtension(keyUsages(lib, isCa, opts.publicKey.asymmetricKeyType), true),
    await lib.SubjectKeyIdentifierExtension.create(publicKey),
    await lib.AuthorityKeyIdentifierExtension.create(opts.issuerPublicKey ? spki(opts.issuerPublicKey) : publicKey),
  ];
  const { ExtendedKeyUsage } = lib;
  const usages = [...(opts.serverAuth ? [ExtendedKeyUsage.serverAuth] : []), ...(opts.clientAuth ? [ExtendedKeyUsage.clientAuth] : [])];
  if (usages.length) extensions.push(new lib.ExtendedKeyUsageExtension(usages));
  if (names.length) extensions.push(new lib.SubjectAlternativeNameExtension(names));

  const cert = await lib.X509CertificateGenerator.create({
    subject: jsonName(opts.subject),
    issuer: jsonName(opts.issuer ?? opts.subject),
    notBefore,
    notAfter,
    publicKey,
    signingKey: opts.signingKey.toCryptoKey(algorithm.importAs, false, ['sign']),
    signingAlgorithm: algorithm.sign,
    extensions,
  });
  return Buffer.from(cert.rawData);
}

/** PEM armour (RFC 7468: base64 in lines of 64) for DER bytes, e.g. `toPem(der, 'CERTIFICATE')`. Synchronous, so it does not load the library. */
export function toPem(der: Uint8Array, label: string): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\n');
}
