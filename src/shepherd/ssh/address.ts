// Parsing of machine addresses as providers report them.

/** Where to connect: a host name or IP literal (IPv6 without brackets) and a port. */
export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_SSH_PORT = 22;

/**
 * Parses "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal
 * ("2001:db8::1", which has too many colons to carry a port). Port 22 unless given.
 * Throws a TypeError on an empty host or a port outside 1..65535.
 */
export function parseSshAddress(address: string): SshEndpoint {
  const text = address.trim();
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new TypeError(`invalid ssh address ${JSON.stringify(address)}: missing "]"`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new TypeError(`invalid ssh address ${JSON.stringify(address)}`);
      portText = rest.slice(1);
    }
  } else {
    const first = text.indexOf(':');
    if (first >= 0 && first === text.lastIndexOf(':')) {
      host = text.slice(0, first);
      portText = text.slice(first + 1);
    } else {
      // No colon, or several: a bare IPv6 literal cannot carry a port.
      host = text;
    }
  }
  if (host === '') throw new TypeError(`invalid ssh address ${JSON.stringify(address)}: empty host`);
  if (portText === undefined) return { host, port: DEFAULT_SSH_PORT };
  if (!/^\d{1,5}$/.test(portText)) throw new TypeError(`invalid ssh address ${JSON.stringify(address)}: bad port`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new TypeError(`invalid ssh address ${JSON.stringify(address)}: port out of range`);
  return { host, port };
}

/** Formats an endpoint back as "host:port", bracketing IPv6 literals. */
export function formatSshEndpoint(endpoint: SshEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}
