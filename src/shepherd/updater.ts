// The updater (the original's shepherd-updater): a loop that keeps each
// Provided tag's provider status in line with what the provider reports (for
// a device-list entry with a BMC: its power state). Machines whose status
// changed, is missing or Unknown, or could not be read are checked again soon
// (`changedRecheckMs`); settled ones rarely (`settledRecheckMs`). Every
// provider call takes a token of its own rate limit, so a big fleet never
// floods its BMCs, and every BMDB write runs under one shared session.
import type { Logger } from 'pino';
import { SessionExpiredError, SessionKeeper, type MachineProvided, type ProviderStatus, type SessionStarter } from '../bmdb/index.ts';
import { FailureStreak } from '../lib/failure-streak.ts';
import { silentLogger } from '../lib/logger.ts';
import { TokenBucket, type RateLimit } from '../lib/rate.ts';
import { sleep } from '../lib/sleep.ts';
import { ProviderMachineNotFoundError, type Provider } from './provider.ts';

/** A provider that can say what state a machine is in. */
export interface StatusProvider extends Provider {
  /** The machine's status, or undefined when the provider cannot tell (left as stored). */
  providerStatus(id: string, opts?: { signal?: AbortSignal }): Promise<ProviderStatus | undefined>;
}

export function canReportStatus(provider: Provider): provider is StatusProvider {
  return typeof (provider as Partial<StatusProvider>).providerStatus === 'function';
}

export const UPDATER_DEFAULTS = Object.freeze({
  /** Machines whose status changed or is incomplete: every minute. */
  changedRecheckMs: 60_000,
  /** Settled machines: every 30 minutes. */
  settledRecheckMs: 30 * 60_000,
  /** Provider status reads: at most one per second on average, bursts of 10. */
  rate: Object.freeze({ intervalMs: 1000, burst: 10 }) as RateLimit,
  /** How often the BMDB's machine list is read to find the due ones. */
  roundIntervalMs: 10_000,
});

export interface UpdaterOptions {
  readonly changedRecheckMs?: number;
  readonly settledRecheckMs?: number;
  readonly rate?: RateLimit;
  readonly roundIntervalMs?: number;
  /** Milliseconds since some epoch; default Date.now (tests pass a fake clock). */
  readonly now?: () => number;
  readonly logger?: Logger;
}

const INCOMPLETE: ReadonlySet<ProviderStatus | null> = new Set([null, 'Unknown', 'Provisioning']);

export class Updater {
  readonly #bmdb: SessionStarter;
  readonly #provider: StatusProvider;
  readonly #changedMs: number;
  readonly #settledMs: number;
  readonly #roundMs: number;
  readonly #now: () => number;
  readonly #bucket: TokenBucket;
  readonly #log: Logger;
  /** When each machine (by provider id) is due again. */
  readonly #due = new Map<string, number>();

  constructor(bmdb: SessionStarter, provider: StatusProvider, options: UpdaterOptions = {}) {
    this.#bmdb = bmdb;
    this.#provider = provider;
    this.#changedMs = options.changedRecheckMs ?? UPDATER_DEFAULTS.changedRecheckMs;
    this.#settledMs = options.settledRecheckMs ?? UPDATER_DEFAULTS.settledRecheckMs;
    this.#roundMs = options.roundIntervalMs ?? UPDATER_DEFAULTS.roundIntervalMs;
    this.#now = options.now ?? Date.now;
    for (const [what, ms] of [['changedRecheckMs', this.#changedMs], ['settledRecheckMs', this.#settledMs], ['roundIntervalMs', this.#roundMs]] as const) {
      if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`updater ${what} must be at least 1 ms, got ${ms}`);
    }
    this.#bucket = new TokenBucket(options.rate ?? UPDATER_DEFAULTS.rate, this.#now);
    this.#log = (options.logger ?? silentLogger()).child({ component: 'updater', provider: provider.name });
  }

  /** Runs rounds until `signal` aborts, under one kept session. */
  async run(signal: AbortSignal): Promise<void> {
    const keeper = new SessionKeeper(this.#bmdb, { component: 'shepherd-updater', processor: 'shepherd-updater', logger: this.#log });
    this.#log.info({ changedRecheckMs: this.#changedMs, settledRecheckMs: this.#settledMs }, 'updater running');
    const rounds = new FailureStreak(this.#log, 'refresh provider status', { quiet: (err) => this.#bmdb.outage?.covers(err) ?? false });
    try {
      while (!signal.aborted) {
        try {
          await this.round(keeper, signal);
          rounds.succeeded();
        } catch (err) {
          if (signal.aborted) break;
          if (!(err instanceof SessionExpiredError)) rounds.failed(err);
        }
        await sleep(this.#roundMs, signal).catch(() => undefined);
      }
    } finally {
      await keeper.close();
      this.#log.info('updater stopped');
    }
  }

  /** One round: checks every machine that is due. Returns how many were checked. */
  async round(keeper: Pick<SessionKeeper, 'withSession'>, signal?: AbortSignal): Promise<number> {
    const opts = signal ? { signal } : {};
    const machines = await keeper.withSession((s) => s.transact((q) => q.getProvidedMachines({ provider: this.#provider.type }), opts), opts);
    const known = new Set(machines.map((m) => m.providerId));
    for (const id of this.#due.keys()) if (!known.has(id)) this.#due.delete(id);
    let checked = 0;
    for (const machine of machines) {
      if ((this.#due.get(machine.providerId) ?? 0) > this.#now()) continue;
      if (!(await this.#bucket.take(signal))) break;
      await this.#check(keeper, machine, opts);
      checked++;
    }
    return checked;
  }

  async #check(keeper: Pick<SessionKeeper, 'withSession'>, machine: MachineProvided, opts: { signal?: AbortSignal }): Promise<void> {
    const log = this.#log.child({ machineId: machine.machineId, providerId: machine.providerId });
    let status: ProviderStatus | undefined;
    try {
      status = await this.#provider.providerStatus(machine.providerId, opts);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      status = err instanceof ProviderMachineNotFoundError ? 'Missing' : 'Unknown';
      log.warn({ err }, 'could not read the provider status');
    }
    if (status !== undefined && status !== machine.providerStatus) {
      await keeper.withSession((s) => s.transact((q) => q.updateProviderStatus({ provider: machine.provider, providerId: machine.providerId, providerStatus: status }), opts), opts);
      log.info({ from: machine.providerStatus, to: status }, 'provider status changed');
    }
    const settled = status === undefined || (status === machine.providerStatus && !INCOMPLETE.has(status));
    this.#due.set(machine.providerId, this.#now() + (settled ? this.#settledMs : this.#changedMs));
  }
}
