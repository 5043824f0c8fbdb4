export { VERSION, runtimeInfo } from './version.ts';
export { sleep } from './sleep.ts';
export { silentLogger } from './logger.ts';
export { createCertificate, toPem, ed25519RawPublicKey, InvalidSubjectNameError, UnsupportedKeyError, type CertificateOptions, type DistinguishedName } from './x509/index.ts';
export { parseDuration, formatDuration, DurationSyntaxError } from './duration.ts';
export { parseRate, TokenBucket, RateSyntaxError, type RateLimit } from './rate.ts';
