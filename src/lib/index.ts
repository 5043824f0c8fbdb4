export { VERSION, runtimeInfo } from './version.ts';
export { sleep } from './sleep.ts';
export { silentLogger } from './logger.ts';
export { parseDuration, formatDuration, DurationSyntaxError } from './duration.ts';
export { parseRate, TokenBucket, RateSyntaxError, type RateLimit } from './rate.ts';
export { parseHostPort, parseListenAddress, isLoopbackHost, formatHostPort, HostPortError, type HostPort, type HostPortOptions } from './host-port.ts';
