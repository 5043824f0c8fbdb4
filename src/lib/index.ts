export { VERSION, runtimeInfo } from './version.ts';
export { sleep } from './sleep.ts';
export { silentLogger } from './logger.ts';
export { LOG_SERIALIZERS, serializeError } from './log-serializers.ts';
export { createCertificate, createLoopbackCa, toPem, ed25519RawPublicKey, InvalidSubjectNameError, UnsupportedKeyError, type CertificateOptions, type DistinguishedName, type LoopbackCa } from './x509/index.ts';
export { parseDuration, formatDuration, DurationSyntaxError } from './duration.ts';
export { parseRate, TokenBucket, RateSyntaxError, type RateLimit } from './rate.ts';
export { MAX_TIMER_MS, checkDuration, formatBounds, DurationRangeError, type DurationBounds } from './duration.ts';
export { formatRate, MAX_RATE_BURST } from './rate.ts';
export {
  parseFlags,
  ParsedFlags,
  UsageError,
  formatFlagHelp,
  formatFlagDefault,
  durationFlagBounds,
  wantsHelp,
  parsePerWindow,
  formatPerWindow,
  type PerWindowLimit,
  type FlagSpec,
  type FlagType,
  type FlagValue,
  type ParseFlagsOptions,
} from './flags.ts';
export { parseHostPort, parseListenAddress, isLoopbackHost, formatHostPort, HostPortError, type HostPort, type HostPortOptions } from './host-port.ts';
export { FailureStreak } from './failure-streak.ts';
export { GroupQueue, type GroupOutcome, type GroupQueueOptions } from './group-queue.ts';
