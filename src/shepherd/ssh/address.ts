// Machine addresses as providers report them, read by the one host:port parser
// of src/lib (IPv6 in brackets when a port follows; port 22 when none is given).
import { formatHostPort, parseHostPort } from '../../lib/index.ts';

/** Where to connect: a host name or IP literal (IPv6 without brackets) and a port. */
export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_SSH_PORT = 22;

/**
 * Parses "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal.
 * @throws HostPortError on an empty or malformed host, or a port outside 1..65535.
 */
export function parseSshAddress(address: string): SshEndpoint {
  const { host, port } = parseHostPort(address, { defaultPort: DEFAULT_SSH_PORT });
  // Not a listener, so the parser always returns a host.
  return { host: host!, port };
}

/** Formats an endpoint back as "host:port", bracketing IPv6 literals. */
export function formatSshEndpoint(endpoint: SshEndpoint): string {
  return formatHostPort(endpoint);
}
