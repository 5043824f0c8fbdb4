// Several PostgreSQL hosts in one --bmdb-url, the way libpq takes them
// (`postgres://db1:5432,db2:5432/bmaas?target_session_attrs=read-write`).
// node-postgres connects to one host only, so this file adds the host list:
// every new connection goes to the host currently believed to be the one
// target_session_attrs asks for, and moves on along the list (wrapping
// around) when that host refuses, fails the check, or turns read-only after a
// promotion elsewhere. Connections to any other host are dropped when next
// taken from the pool, so after a failover the pool refills from the new
// primary. See docs/architecture.md#transactions-and-retries.
import pg from 'pg';
import { BmdbConfigError, NoSuitableHostError, sqlState } from './errors.ts';

/** One entry of the host list; port undefined means pg's default (PGPORT or 5432). */
export interface PgHost {
  readonly host: string;
  readonly port: number | undefined;
}

/** What a host must be to be kept: libpq's modes that make sense for a database we write to. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary';
const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'primary'];

export interface PgUrl {
  readonly hosts: readonly PgHost[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** One single-host connection string per host (target_session_attrs removed), for node-postgres. */
  readonly connectionStrings: readonly string[];
}

const URL_SHAPE = /^(postgres(?:ql)?:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is;

/** `host:port`, with brackets around IPv6 addresses. */
export function formatPgHost(h: PgHost): string {
  const host = h.host.includes(':') ? `[${h.host}]` : h.host;
  return h.port === undefined ? host : `${host}:${h.port}`;
}

function parseHost(text: string): PgHost {
  const m = /^\[([^\]]+)\](?::(\d*))?$/.exec(text) ?? /^([^:[\]]*)(?::(\d*))?$/.exec(text);
  if (!m) throw new BmdbConfigError(`invalid --bmdb-url: bad host ${JSON.stringify(text)} (IPv6 addresses go in brackets: [::1]:5432)`);
  const portText = m[2];
  if (portText === undefined || portText === '') return { host: m[1]!, port: undefined };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BmdbConfigError(`invalid --bmdb-url: bad port ${JSON.stringify(portText)}`);
  return { host: m[1]!, port };
}

/** Splits a postgres:// URL into its hosts; throws BmdbConfigError (without the password) when malformed. */
export function parsePgUrl(url: string): PgUrl {
  const m = URL_SHAPE.exec(url);
  if (!m) throw new BmdbConfigError('invalid --bmdb-url: not a postgres:// URL');
  const [, scheme, authority, path, query = '', fragment = ''] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostList = authority.slice(at + 1);
  const hosts = hostList.split(',').map(parseHost);
  if (hosts.length > 1 && hosts.some((h) => h.host === '')) throw new BmdbConfigError('invalid --bmdb-url: empty host in the host list');

  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get('target_session_attrs') ?? 'any';
  if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(attrs)) {
    throw new BmdbConfigError(`invalid --bmdb-url: target_session_attrs=${attrs} is not supported (use ${TARGET_SESSION_ATTRS.join(', ')})`);
  }
  // Keep the other parameters exactly as written; drop only ours.
  const kept = query.slice(1).split('&').filter((p) => p !== '' && !p.startsWith('target_session_attrs='));
  const rest = `${path}${kept.length ? `?${kept.join('&')}` : ''}${fragment}`;
  const connectionStrings = hosts.map((h) => `${scheme}${userinfo}${formatPgHost(h)}${rest}`);
  try {
    new URL(connectionStrings[0]!);
  } catch (err) {
    throw new BmdbConfigError('invalid --bmdb-url: not a valid URL', { cause: err });
  }
  return { hosts, targetSessionAttrs: attrs as TargetSessionAttrs, connectionStrings };
}

/** The URL with its password (in the user part or a `password=` parameter) replaced by ***; works on any URL, even a malformed one. */
export function redactPgUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return '<unparseable url>';
  let authority = m[2]!;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) authority = `${userinfo.slice(0, colon)}:***${authority.slice(at)}`;
  }
  return `${m[1]}${authority}${m[3]!.replace(/([?&]password=)[^&#]*/gi, '$1***')}`;
}

/** Which host new connections go to; moves on along the list when that host lets us down. */
class HostSelector {
  readonly count: number;
  #current = 0;
  constructor(count: number) {
    this.count = count;
  }
  get current(): number {
    return this.#current;
  }
  /** Host `index` failed us: move on, unless someone already did. */
  failed(index: number): void {
    if (index === this.#current) this.#current = (index + 1) % this.count;
  }
}

/** A connection that remembers its host and reports a read-only refusal to the selector. */
function hostListClient(selector: HostSelector, parsed: PgUrl): typeof pg.Client {
  const watchReadOnly = parsed.targetSessionAttrs !== 'any';
  return class HostListClient extends pg.Client {
    readonly hostIndex: number;
    constructor(config?: pg.ClientConfig) {
      const hostIndex = selector.current;
      super({ ...config, connectionString: parsed.connectionStrings[hostIndex] });
      this.hostIndex = hostIndex;
      // While the pool has lent it out, a connection has no 'error' listener,
      // and a server shutting down (57P01) between two queries would then
      // crash the process. The caller's next query fails with the error
      // anyway, and the driver drops the connection.
      this.on('error', () => {});
      if (!watchReadOnly) return;
      // SQLSTATE 25006 on a write means this host was demoted (or another was
      // promoted): stop sending new connections here.
      const note = (err: unknown): void => {
        if (sqlState(err) === '25006') selector.failed(hostIndex);
      };
      const query = this.query.bind(this) as (...args: unknown[]) => unknown;
      (this as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]): unknown => {
        const last = args.at(-1);
        if (typeof last === 'function') {
          args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
            if (err) note(err);
            return (last as (...a: unknown[]) => unknown)(err, ...rest);
          };
        }
        const result = query(...args);
        if (result instanceof Promise) result.catch(note);
        return result;
      };
    }
  };
}

/** Runs once per new connection: refuses a host that is not what target_session_attrs asks for. */
async function checkSession(client: pg.ClientBase, parsed: PgUrl): Promise<void> {
  const host = formatPgHost(parsed.hosts[(client as unknown as { hostIndex: number }).hostIndex]!);
  if (parsed.targetSessionAttrs === 'read-write') {
    const r = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
    if (r.rows[0]?.transaction_read_only !== 'off') throw new Error(`${host} is read-only (target_session_attrs=read-write)`);
  } else if (parsed.targetSessionAttrs === 'primary') {
    const r = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    if (r.rows[0]?.recovery !== false) throw new Error(`${host} is a standby (target_session_attrs=primary)`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape @types/pg gives pg.Pool.connect
type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void;

/**
 * A pg.Pool over the hosts of a parsed URL. Taking a connection tries the
 * current host and then the others in list order, each once; a pooled
 * connection to a host that is no longer current is destroyed instead of
 * handed out. When no host qualifies: NoSuitableHostError (with one host, that
 * host's own error).
 */
export class HostListPool extends pg.Pool {
  readonly #parsed: PgUrl;
  readonly #selector: HostSelector;

  constructor(parsed: PgUrl, config: Omit<pg.PoolConfig, 'connectionString' | 'Client' | 'onConnect'>) {
    const selector = new HostSelector(parsed.hosts.length);
    super({
      ...config,
      connectionString: parsed.connectionStrings[0],
      Client: hostListClient(selector, parsed) as unknown as pg.PoolConfig['Client'],
      ...(parsed.targetSessionAttrs === 'any' ? {} : { onConnect: ((client: pg.ClientBase) => checkSession(client, parsed)) as unknown as pg.PoolConfig['onConnect'] }),
    });
    this.#parsed = parsed;
    this.#selector = selector;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    const acquired = this.#acquire();
    if (!callback) return acquired;
    acquired.then(
      (client) => callback(undefined, client, client.release.bind(client)),
      (err: Error) => callback(err, undefined, () => {}),
    );
  }

  async #acquire(): Promise<pg.PoolClient> {
    const failures: string[] = [];
    let lastError: unknown;
    let stale = 0;
    for (let attempt = 0; attempt < this.#selector.count; ) {
      const index = this.#selector.current;
      let client: pg.PoolClient;
      try {
        client = await super.connect();
      } catch (err) {
        if (this.ending) throw err;
        lastError = err;
        failures.push(`${formatPgHost(this.#parsed.hosts[index]!)}: ${(err as Error).message}`);
        this.#selector.failed(index);
        attempt++;
        continue;
      }
      const clientIndex = (client as unknown as { hostIndex: number }).hostIndex;
      if (clientIndex === this.#selector.current) return client;
      // Connected before the move to another host: drop it. Bounded by the pool size.
      client.release(true);
      if (++stale > (this.options.max ?? 10) + this.#selector.count) attempt++;
    }
    if (this.#selector.count === 1) throw lastError;
    throw new NoSuitableHostError(
      `no host of --bmdb-url is usable (target_session_attrs=${this.#parsed.targetSessionAttrs}): ${failures.join('; ')}`,
      { cause: lastError },
    );
  }
}
