// `host:port` as given on the command line: `127.0.0.1:8080`, `[::1]:8080`,
// `:8080` (all interfaces), `localhost:0` (any free port).

/** Thrown for a listen address that is not host:port. */
export class ListenAddressError extends Error {
  override readonly name = 'ListenAddressError';
}

export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new ListenAddressError(`listen address ${JSON.stringify(address)} is not host:port`);
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const portText = address.slice(i + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ListenAddressError(`listen address ${JSON.stringify(address)} has no valid port`);
  return { host: host === '' ? undefined : host, port };
}
