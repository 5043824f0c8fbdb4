// Builds X.509 v3 certificates with node:crypto keys: the few shapes bmaas
// needs (a development CA, a server certificate it signs, and the agent's
// self-signed Ed25519 client certificate). Node can parse certificates but
// has no API to create them.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { bitString, boolean, explicit, implicitPrimitive, integer, nullValue, octetString, oid, sequence, set, time, utf8String } from './der.ts';

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
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** A certificate authority (may sign others) rather than an end entity. */
  readonly isCa?: boolean;
  /** Extended key usages; default none listed. */
  readonly serverAuth?: boolean;
  readonly clientAuth?: boolean;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/** Thrown for keys this builder cannot sign with or certify. */
export class UnsupportedKeyError extends Error {
  override readonly name = 'UnsupportedKeyError';
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ed25519: '1.3.101.112',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

function encodeName(name: DistinguishedName): Buffer {
  const rdns = [set(sequence(oid(OID.commonName), utf8String(name.commonName)))];
  if (name.organization) rdns.unshift(set(sequence(oid(OID.organization), utf8String(name.organization))));
  return sequence(...rdns);
}

/** The AlgorithmIdentifier and the digest name for `crypto.sign` for a signing key. */
function signatureAlgorithm(key: KeyObject): { algorithmId: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return { algorithmId: sequence(oid(OID.ed25519)), digest: null };
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new UnsupportedKeyError(`only P-256 EC keys are supported, got ${key.asymmetricKeyDetails?.namedCurve}`);
      return { algorithmId: sequence(oid(OID.ecdsaWithSha256)), digest: 'sha256' };
    case 'rsa':
      return { algorithmId: sequence(oid(OID.sha256WithRsa), nullValue()), digest: 'sha256' };
    default:
      throw new UnsupportedKeyError(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  }
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 method 1 key identifier, computed over the whole SPKI (any stable hash is allowed). */
function keyIdentifier(key: KeyObject): Buffer {
  return createHash('sha1').update(spki(key)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function keyUsageBits(isCa: boolean, keyType: string | undefined): Buffer {
  // Bits from the left: 0 digitalSignature, 2 keyEncipherment, 5 keyCertSign, 6 cRLSign.
  let byte = 0x80;
  if (keyType === 'rsa' && !isCa) byte |= 0x20;
  if (isCa) byte |= 0x04 | 0x02;
  let unused = 0;
  while (unused < 7 && ((byte >> unused) & 1) === 0) unused++;
  return bitString(Buffer.from([byte]), unused);
}

function ipAddressBytes(ip: string): Buffer {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and write eight 16-bit groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new RangeError(`bad IP address ${ip}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Creates a DER-encoded certificate. */
export function createCertificate(opts: CertificateOptions): Buffer {
  const isCa = opts.isCa ?? false;
  const { algorithmId, digest } = signatureAlgorithm(opts.signingKey);
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * 24 * 60 * 60 * 1000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;

  const extensions = [
    extension(OID.basicConstraints, true, isCa ? sequence(boolean(true)) : sequence()),
    extension(OID.keyUsage, true, keyUsageBits(isCa, opts.publicKey.asymmetricKeyType)),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(opts.publicKey))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyIdentifier(opts.issuerPublicKey ?? opts.publicKey)))),
  ];
  const usages = [...(opts.serverAuth ? [oid(OID.serverAuth)] : []), ...(opts.clientAuth ? [oid(OID.clientAuth)] : [])];
  if (usages.length) extensions.push(extension(OID.extKeyUsage, false, sequence(...usages)));
  const names = [
    ...(opts.dnsNames ?? []).map((n) => implicitPrimitive(2, Buffer.from(n, 'ascii'))),
    ...(opts.ipAddresses ?? []).map((ip) => implicitPrimitive(7, ipAddressBytes(ip))),
  ];
  if (names.length) extensions.push(extension(OID.subjectAltName, false, sequence(...names)));

  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithmId,
    encodeName(opts.issuer ?? opts.subject),
    sequence(time(notBefore), time(notAfter)),
    encodeName(opts.subject),
    spki(opts.publicKey),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign(digest, tbs, opts.signingKey);
  return sequence(tbs, algorithmId, bitString(signature));
}

/** PEM armour for DER bytes, e.g. `toPem(der, 'CERTIFICATE')`. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
