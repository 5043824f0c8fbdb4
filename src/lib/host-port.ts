// `host:port` as operators write it, for listeners and for connection targets.
//
//   127.0.0.1:8080   an IPv4 address
//   [::1]:8080       an IPv6 address (brackets required when a port follows)
//   db.example:5432  a host name
//   :8080            every interface, IPv6 and IPv4 (`host` is undefined: Node's
//                    `listen(port)` default); only for a listener
//   0.0.0.0:8080     every IPv4 interface; `[::]:8080` every IPv6 interface
//   example.com      a bare host, when the caller gives a default port
//   ::1              a bare IPv6 address, likewise
import { isIPv4, isIPv6 } from 'node:net';

/** Thrown when a `host:port` text is malformed, or its host or port is out of range. */
export class HostPortError extends Error {
  override readonly name = 'HostPortError';
}

export interface HostPort {
  /** undefined: every interface (a listener given `:port`). IPv6 without brackets. */
  readonly host: string | undefined;
  readonly port: number;
}

export interface HostPortOptions {
  /** Port used when the text is a bare host. Without it, a port is required. */
  readonly defaultPort?: number | undefined;
  /** A listener: the host may be empty (every interface) and port 0 picks a free one. */
  readonly listen?: boolean | undefined;
}

// Host names per RFC 1123 labels, plus `_` (seen in internal DNS). No IPv4 lookalikes.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function checkHost(text: string, host: string, bracketed: boolean): string {
  if (bracketed) {
    if (!isIPv6(host)) throw new HostPortError(`${JSON.stringify(text)}: ${JSON.stringify(host)} in brackets is not an IPv6 address`);
    return host;
  }
  if (/^[\d.]+$/.test(host)) {
    if (!isIPv4(host)) throw new HostPortError(`${JSON.stringify(text)}: ${JSON.stringify(host)} is not an IPv4 address`);
    return host;
  }
  if (!HOST_NAME.test(host)) throw new HostPortError(`${JSON.stringify(text)}: ${JSON.stringify(host)} is not a host name or IP address`);
  return host;
}

function checkPort(text: string, portText: string, listen: boolean): number {
  if (!/^\d{1,5}$/.test(portText)) throw new HostPortError(`${JSON.stringify(text)}: port ${JSON.stringify(portText)} is not a number`);
  const port = Number(portText);
  const min = listen ? 0 : 1;
  if (port < min || port > 65535) throw new HostPortError(`${JSON.stringify(text)}: port ${port} is outside ${min}..65535`);
  return port;
}

/** Parses `host:port` (see the top of this file). Throws HostPortError. */
export function parseHostPort(text: string, opts: HostPortOptions = {}): HostPort {
  const listen = opts.listen ?? false;
  const s = text.trim();
  if (s === '') throw new HostPortError('empty address: expected host:port, e.g. 127.0.0.1:8080');
  let hostText: string;
  let portText: string | undefined;
  let bracketed = false; // the host must be IPv6
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new HostPortError(`${JSON.stringify(text)}: "[" without "]"`);
    hostText = s.slice(1, close);
    bracketed = true;
    const rest = s.slice(close + 1);
    if (rest.startsWith(':')) portText = rest.slice(1);
    else if (rest !== '') throw new HostPortError(`${JSON.stringify(text)}: expected ":port" after "]"`);
  } else if (isIPv6(s)) {
    hostText = s; // a bare IPv6 address: its colons are not a port separator
    bracketed = true;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0 && s.indexOf(':') !== colon) {
      throw new HostPortError(`${JSON.stringify(text)}: write an IPv6 address with a port in brackets, e.g. [::1]:8080`);
    }
    hostText = colon < 0 ? s : s.slice(0, colon);
    if (colon >= 0) portText = s.slice(colon + 1);
  }
  let port: number;
  if (portText !== undefined) port = checkPort(text, portText, listen);
  else if (opts.defaultPort !== undefined) port = opts.defaultPort;
  else throw new HostPortError(`${JSON.stringify(text)} has no port: expected host:port, e.g. 127.0.0.1:8080`);
  if (hostText === '' && !bracketed) {
    if (!listen) throw new HostPortError(`${JSON.stringify(text)} has no host`);
    return { host: undefined, port };
  }
  return { host: checkHost(text, hostText, bracketed), port };
}

/** A listener's address: `parseHostPort(text, { listen: true })`. */
export function parseListenAddress(text: string): HostPort {
  return parseHostPort(text, { listen: true });
}

/** True for hosts only this machine can reach: `localhost`, 127.0.0.0/8, `::1` (and its IPv4-mapped form). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** `host:port` with IPv6 in brackets; undefined host as `:port`. */
export function formatHostPort({ host, port }: HostPort): string {
  if (host === undefined) return `:${port}`;
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
