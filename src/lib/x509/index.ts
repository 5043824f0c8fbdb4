// X.509 certificate creation (node:crypto can parse certificates, not make them).
export { createCertificate, toPem, UnsupportedKeyError } from './certificate.ts';
export type { CertificateOptions, DistinguishedName } from './certificate.ts';
