// webug: the operator's web UI over the BMDB, read-only unless started with
// --allow-actions (then an action API, a login page and action forms).
// Embeddable: any component can call startWebug next to its own work.
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { DEFAULT_RECOVERY_THRESHOLDS, DEFAULT_STUCK_LIMITS, type Bmdb, type RecoveryThresholds, type StuckLimits } from '../bmdb/index.ts';
import { HostPortError, isLoopbackHost, parseListenAddress, silentLogger, type HostPort } from '../lib/index.ts';
import type { ApiToken } from './api-tokens.ts';
import { BrowserSessions } from './browser-sessions.ts';
import { createContext } from './context.ts';
import { WebugConfigError } from './errors.ts';
import { createHandler } from './server.ts';

export { BadRequestError, NotFoundError, WebugConfigError } from './errors.ts';
export { html, escapeHtml, SafeHtml } from './html.ts';
export { API_ROLES, loadApiTokensFile, parseApiTokens, type ApiRole, type ApiToken } from './api-tokens.ts';
// The fleet list and the machine page as data, for the CLI (`bmaas machines`).
export { createContext, type WebugContext } from './context.ts';
export { loadFleetPage, selectFleet, type FleetPage, type FleetRow } from './fleet.ts';
export { STUCK_FILTERS, type StuckFilter } from './fleet-query.ts';
export type { MachineStateView } from './stuck.ts';
export { loadMachine, type MachineDetail } from './machine.ts';

export const DEFAULT_WEBUG_LISTEN_ADDRESS = '127.0.0.1:8081';
export const WEBUG_TOKEN_ENV = 'BMAAS_WEBUG_TOKEN';

export interface WebugOptions {
  readonly bmdb: Bmdb;
  /** host:port; default 127.0.0.1:8081. Port 0 picks a free port. */
  readonly listenAddress?: string | undefined;
  /** Required when the address is not loopback; optional (but enforced) otherwise. */
  readonly token?: string | undefined;
  readonly logger?: Logger | undefined;
  /** Aborting closes the server. */
  readonly signal?: AbortSignal | undefined;
  /** How often live pages refresh. Default 2000 ms. */
  readonly liveMs?: number | undefined;
  /** Thresholds the recovery explanation uses; keep them equal to the recoverer's. */
  readonly recoveryThresholds?: RecoveryThresholds | undefined;
  /** How long a machine may stay in each derived state before it is listed as stuck; default DEFAULT_STUCK_LIMITS. */
  readonly stuckLimits?: StuckLimits | undefined;
  /** Serve the action API (POST /api/machines/<id>/actions/<action>). Default false: read-only, writes nothing. */
  readonly allowActions?: boolean | undefined;
  /** The action API's bearer tokens (loadApiTokensFile); required with allowActions. */
  readonly apiTokens?: readonly ApiToken[] | undefined;
  /** Serve HTTPS with this certificate chain and key (PEM). Required for actions off loopback. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
}

export interface Webug {
  /** Base URL, e.g. http://127.0.0.1:8081/ */
  readonly url: string;
  close(): Promise<void>;
}

function webugAddress(text: string): HostPort {
  try {
    return parseListenAddress(text);
  } catch (err) {
    if (err instanceof HostPortError) throw new WebugConfigError(`invalid webug listen address: ${err.message}`);
    throw err;
  }
}

export async function startWebug(opts: WebugOptions): Promise<Webug> {
  const address = webugAddress(opts.listenAddress ?? DEFAULT_WEBUG_LISTEN_ADDRESS);
  const token = opts.token === '' ? undefined : opts.token;
  if (!isLoopbackHost(address.host) && token === undefined) {
    throw new WebugConfigError(`refusing to serve webug on ${address.host ?? 'every interface'} without a token: give --webug-token or ${WEBUG_TOKEN_ENV}, or listen on 127.0.0.1`);
  }
  if (token !== undefined && token.length < 16) throw new WebugConfigError('the webug token must be at least 16 characters');
  if (opts.allowActions) {
    if (!opts.apiTokens?.length) throw new WebugConfigError('--allow-actions needs --tokens-file with at least one token: no actions without a token, even on loopback');
    if (!isLoopbackHost(address.host) && !opts.tls) throw new WebugConfigError('refusing to serve actions off loopback without TLS: give --tls-cert and --tls-key, or listen on 127.0.0.1');
  }
  opts.signal?.throwIfAborted();
  const logger = (opts.logger ?? silentLogger()).child({ module: 'webug' });
  const ctx = createContext(opts.bmdb, opts.recoveryThresholds ?? DEFAULT_RECOVERY_THRESHOLDS, opts.stuckLimits ?? DEFAULT_STUCK_LIMITS);
  const actions = opts.allowActions ? { bmdb: opts.bmdb, tokens: opts.apiTokens ?? [] } : undefined;
  const browser = actions ? { api: actions, sessions: new BrowserSessions(opts.tls !== undefined) } : undefined;
  const handler = createHandler({ ctx, token, logger, liveMs: opts.liveMs ?? 2000, actions, browser, outage: opts.bmdb.outage });
  const server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, handler) : createServer(handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `${opts.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${bound.port}/`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  opts.signal?.addEventListener('abort', () => void close(), { once: true });
  logger.info({ url, auth: token ? 'token' : 'none', actions: actions ? `${actions.tokens.length} tokens` : 'off' }, `webug serving ${url}${actions ? ' with the action API' : ' (read-only)'}`);
  return { url, close };
}
export { WEBUG_BOUNDS, WEBUG_DEFAULTS } from './webug-options.ts';
