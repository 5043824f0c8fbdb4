// The server's listen addresses are parsed by the one host:port parser in src/lib
// (`:8080` is every interface, IPv6 and IPv4). These names stay for the CLI.
export { parseListenAddress, HostPortError as ListenAddressError } from '../lib/index.ts';
