// The BMC drivers of a device list, one per BMC, opened on first use and kept
// so that every machine has at most one request in flight at its BMC (the
// updater and the recoverer share it). The password is read when a driver is
// opened (and so is a `TLS.CACertificate` file); a driver whose login was
// refused is dropped, so the next call reads the (maybe rotated) password
// again. close() releases every driver (Redfish sessions included).
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { BmcAuthError, BmcError, createBmcDriver, type BmcDriver, type BmcOptions, type BmcTls, type BmcTimeouts } from '../../bmc/index.ts';
import { resolveBmcSpec, type ResolvedBmcSpec } from './bmc-password.ts';
import type { BmcSpec } from './bmc-spec.ts';

/**
 * The driver options for a device-list BMC with its password read; `caPem` is
 * the content of its `TLS.CACertificate` file (the driver takes PEM, not a path).
 */
export function bmcOptions(spec: ResolvedBmcSpec, timeouts?: BmcTimeouts, caPem?: string): BmcOptions {
  const base = { endpoint: spec.endpoint, username: spec.username, password: spec.password, ...(timeouts ? { timeouts } : {}) };
  if (spec.driver === 'ipmi') return { driver: 'ipmi', ...base };
  const t = spec.tls;
  if (t.mode === 'ca' && caPem === undefined) throw new BmcError(`BMC ${spec.endpoint}: the CA certificate ${t.caCertificateFile} was not read`);
  const tls: BmcTls = t.mode === 'ca' ? { caCertificate: caPem! } : t.mode === 'fingerprint' ? { fingerprint: t.sha256 } : t.mode;
  return { driver: 'redfish', ...base, ...(spec.system === undefined ? {} : { system: spec.system }), tls };
}

/** The PEM of a Redfish BMC's `TLS.CACertificate` file; undefined for other TLS modes. */
async function readCaCertificate(spec: BmcSpec, opts: { signal?: AbortSignal }): Promise<string | undefined> {
  if (spec.driver !== 'redfish' || spec.tls.mode !== 'ca') return undefined;
  const file = spec.tls.caCertificateFile;
  try {
    return await readFile(file, { encoding: 'utf8', signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new BmcError(`cannot read the CA certificate ${file} of BMC ${spec.endpoint}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

export class BmcDrivers {
  readonly #drivers = new Map<string, Promise<BmcDriver>>();
  readonly #log: Logger;
  readonly #timeouts: BmcTimeouts | undefined;
  #closed = false;

  constructor(log: Logger, timeouts?: BmcTimeouts) {
    this.#log = log;
    this.#timeouts = timeouts;
  }

  /** Runs fn with the driver of `spec`; a refused login drops the driver. */
  async use<T>(spec: BmcSpec, fn: (driver: BmcDriver) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    if (this.#closed) throw new Error('the BMC drivers are closed');
    const key = JSON.stringify(spec);
    let pending = this.#drivers.get(key);
    if (pending === undefined) {
      pending = resolveBmcSpec(spec, opts).then(async (resolved) => createBmcDriver(bmcOptions(resolved, this.#timeouts, await readCaCertificate(spec, opts)), { log: this.#log }));
      this.#drivers.set(key, pending);
      pending.catch(() => this.#drivers.get(key) === pending && this.#drivers.delete(key));
    }
    const driver = await pending;
    try {
      return await fn(driver);
    } catch (err) {
      if (err instanceof BmcAuthError && this.#drivers.get(key) === pending) {
        this.#drivers.delete(key);
        await driver.close().catch(() => undefined);
      }
      throw err;
    }
  }

  /** Closes the drivers of BMCs no longer in `specs` (after a reload). */
  async retain(specs: Iterable<BmcSpec>): Promise<void> {
    const keep = new Set([...specs].map((s) => JSON.stringify(s)));
    await this.#closeWhere((key) => !keep.has(key));
  }

  /** Closes every driver; later use() calls fail. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#closeWhere(() => true);
  }

  async #closeWhere(drop: (key: string) => boolean): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const [key, pending] of this.#drivers) {
      if (!drop(key)) continue;
      this.#drivers.delete(key);
      closing.push(pending.then((d) => d.close(), () => undefined).catch((err: unknown) => this.#log.warn({ err }, 'closing a BMC driver failed')));
    }
    await Promise.all(closing);
  }
}
