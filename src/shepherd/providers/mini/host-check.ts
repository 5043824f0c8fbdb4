// Whether a string names a host: an IPv4 or IPv6 address, or an RFC 1123 name.
import { isIPv4, isIPv6 } from 'node:net';
import { quoteForError } from './device-text.ts';

// Dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Why `host` (without port or brackets) is not an address or host name, or undefined when it is one. */
export function hostProblem(host: string): string | undefined {
  if (isIPv4(host) || isIPv6(host)) return undefined;
  if (/^[\d.]+$/.test(host)) return `${quoteForError(host)} is not a valid IPv4 address`;
  if (host.includes(':')) return `${quoteForError(host)} is not a valid IPv6 address`;
  if (!HOSTNAME.test(host)) return `${quoteForError(host)} is not a valid host name`;
  return undefined;
}
