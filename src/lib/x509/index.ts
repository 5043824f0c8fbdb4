// X.509 certificate creation (node:crypto can parse certificates, not make them), over @peculiar/x509.
export { createCertificate, toPem, InvalidSubjectNameError, UnsupportedKeyError } from './certificate.ts';
export type { CertificateOptions, DistinguishedName } from './certificate.ts';
export { ed25519RawPublicKey } from './raw-public-key.ts';
export { createLoopbackCa, type LoopbackCa, type LoopbackCaOptions } from './loopback-ca.ts';
