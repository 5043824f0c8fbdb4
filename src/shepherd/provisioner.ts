// The provisioner (docs/architecture.md#provisioner): enrols machines from a provider into
// the BMDB, up to a limit, refusing to act while the two disagree about which
// machines are ours.
import type { Logger } from 'pino';
import { SessionExpiredError, SessionKeeper, sqlState, type Bmdb, type MachineProvided, type Session } from '../bmdb/index.ts';
import { describeError } from '../controlloop/index.ts';
import { FailureStreak } from '../lib/failure-streak.ts';
import { silentLogger } from '../lib/logger.ts';
import { TokenBucket, type RateLimit } from '../lib/rate.ts';
import { Availability, INVALID_PROVIDER_ID, type Provider, type ProviderMachine } from './provider.ts';

export interface ProvisionerOptions {
  /** Most machines of this provider in the BMDB; 0 = no limit. Default 50. */
  readonly maxCount?: number;
  /** Most machines created per reconcile round; default 20. */
  readonly chunkSize?: number;
  /** How often a round runs; default one per minute (`1m,1`). */
  readonly reconcileRate?: RateLimit;
  /** How fast machines are created; default `5s,1`. */
  readonly creationRate?: RateLimit;
  readonly logger?: Logger;
}

export const PROVISIONER_DEFAULTS = Object.freeze({
  maxCount: 50,
  chunkSize: 20,
  reconcileRate: Object.freeze({ intervalMs: 60_000, burst: 1 }),
  creationRate: Object.freeze({ intervalMs: 5_000, burst: 1 }),
});

/**
 * Resolves PossiblyUsed: capacity without identity or a machine the BMDB does
 * not have is unused, one the BMDB has is used. Other values pass through.
 */
export function resolveAvailability(machine: ProviderMachine, bmdbProviderIds: ReadonlySet<string>): Availability {
  if (machine.availability !== Availability.PossiblyUsed) return machine.availability;
  if (machine.id === INVALID_PROVIDER_ID || !bmdbProviderIds.has(machine.id)) return Availability.KnownUnused;
  return Availability.KnownUsed;
}

export interface ReconcilePlan {
  /** Unused provider machines to create now, in listing order. */
  readonly toCreate: readonly ProviderMachine[];
  /** Used provider machines (not failed) that the BMDB does not have. */
  readonly missingFromBmdb: readonly string[];
  /** BMDB machines of this provider that the provider does not list. */
  readonly missingFromProvider: readonly string[];
  /** Machines skipped because their availability was Undefined. */
  readonly undefinedAvailability: readonly string[];
}

/**
 * Compares the provider's and the BMDB's view; creates nothing when they
 * disagree. Unused machines in `skip` (backing off) are left for later.
 */
export function planReconcile(
  providerMachines: readonly ProviderMachine[],
  bmdbMachines: readonly MachineProvided[],
  limits: { maxCount: number; chunkSize: number },
  skip: ReadonlySet<string> = new Set(),
): ReconcilePlan {
  const inBmdb = new Set(bmdbMachines.map((m) => m.providerId));
  const atProvider = new Set(providerMachines.map((m) => m.id));
  const unused: ProviderMachine[] = [];
  const missingFromBmdb: string[] = [];
  const undefinedAvailability: string[] = [];
  for (const machine of providerMachines) {
    // A failed machine must not stop the fleet from growing (a defect of the original).
    if (machine.failed) continue;
    switch (resolveAvailability(machine, inBmdb)) {
      case Availability.KnownUnused:
        if (!skip.has(machine.id)) unused.push(machine);
        break;
      case Availability.KnownUsed:
        if (!inBmdb.has(machine.id)) missingFromBmdb.push(machine.id);
        break;
      default:
        undefinedAvailability.push(machine.id);
    }
  }
  const missingFromProvider = bmdbMachines.filter((m) => !atProvider.has(m.providerId)).map((m) => m.providerId);
  if (missingFromBmdb.length > 0 || missingFromProvider.length > 0) {
    return { toCreate: [], missingFromBmdb, missingFromProvider, undefinedAvailability };
  }
  const room = limits.maxCount === 0 ? Infinity : Math.max(0, limits.maxCount - bmdbMachines.length);
  const count = Math.min(room, limits.chunkSize, unused.length);
  return { toCreate: unused.slice(0, count), missingFromBmdb, missingFromProvider, undefinedAvailability };
}

const UNIQUE_VIOLATION = '23505';

/**
 * Per provider entry backoff after a failed creation, held in memory: it
 * starts at 30 s and doubles up to 10 min. A restart forgets it, which only
 * means one early retry of each failing entry.
 */
class EntryBackoff {
  static readonly INITIAL_MS = 30_000;
  static readonly MAXIMUM_MS = 600_000;
  readonly #entries = new Map<string, { until: number; delayMs: number }>();

  /** Provider ids still waiting out their backoff. */
  backingOff(now = Date.now()): ReadonlySet<string> {
    const ids = new Set<string>();
    for (const [id, entry] of this.#entries) if (entry.until > now) ids.add(id);
    return ids;
  }

  /** Records a failure; returns how long the entry now waits. */
  failed(id: string, now = Date.now()): number {
    const previous = this.#entries.get(id);
    const delayMs = previous ? Math.min(EntryBackoff.MAXIMUM_MS, previous.delayMs * 2) : EntryBackoff.INITIAL_MS;
    this.#entries.set(id, { until: now + delayMs, delayMs });
    return delayMs;
  }

  succeeded(id: string): void {
    this.#entries.delete(id);
  }
}

export interface ReconcileResult {
  readonly created: number;
  /** Provider ids whose creation failed this round (each now backing off). */
  readonly failed?: readonly string[];
  /** True when the round refused to act because provider and BMDB disagree. */
  readonly desynced: boolean;
}

export class Provisioner {
  readonly #bmdb: Bmdb;
  readonly #provider: Provider;
  readonly #maxCount: number;
  readonly #chunkSize: number;
  readonly #reconcileBucket: TokenBucket;
  readonly #creationBucket: TokenBucket;
  readonly #log: Logger;
  readonly #entryBackoff = new EntryBackoff();

  constructor(bmdb: Bmdb, provider: Provider, options: ProvisionerOptions = {}) {
    this.#bmdb = bmdb;
    this.#provider = provider;
    this.#maxCount = options.maxCount ?? PROVISIONER_DEFAULTS.maxCount;
    this.#chunkSize = options.chunkSize ?? PROVISIONER_DEFAULTS.chunkSize;
    if (!Number.isInteger(this.#maxCount) || this.#maxCount < 0) throw new RangeError(`maxCount must be 0 or more, got ${this.#maxCount}`);
    if (!Number.isInteger(this.#chunkSize) || this.#chunkSize < 1) throw new RangeError(`chunkSize must be 1 or more, got ${this.#chunkSize}`);
    this.#reconcileBucket = new TokenBucket(options.reconcileRate ?? PROVISIONER_DEFAULTS.reconcileRate);
    this.#creationBucket = new TokenBucket(options.creationRate ?? PROVISIONER_DEFAULTS.creationRate);
    this.#log = (options.logger ?? silentLogger()).child({ component: 'provisioner', provider: provider.name });
  }

  /** Reconciles at the configured rate until `signal` aborts, keeping one session. */
  async run(signal: AbortSignal): Promise<void> {
    const keeper = new SessionKeeper(this.#bmdb, { component: 'shepherd-provisioner', processor: 'shepherd-provisioner', logger: this.#log });
    this.#log.info({ maxCount: this.#maxCount, chunkSize: this.#chunkSize }, 'provisioner running');
    const rounds = new FailureStreak(this.#log, 'reconcile with the provider', { quiet: (err) => this.#bmdb.outage.covers(err) });
    try {
      while (!signal.aborted) {
        let session: Session;
        try {
          session = await keeper.current({ signal });
        } catch {
          // The keeper logs the outage and paces the next attempt.
          continue;
        }
        // The reconcile rate is also the pause after a failed round.
        if (!(await this.#reconcileBucket.take(signal))) break;
        try {
          await this.reconcile(session, { signal });
          rounds.succeeded();
        } catch (err) {
          if (signal.aborted) break;
          if (err instanceof SessionExpiredError) continue;
          rounds.failed(err);
        }
      }
    } finally {
      await keeper.close();
      this.#log.info('provisioner stopped');
    }
  }

  /** One round: list both sides, refuse on a desync, else create what the limits allow. */
  async reconcile(session: Session, options: { signal?: AbortSignal } = {}): Promise<ReconcileResult> {
    const { signal } = options;
    const providerMachines = await this.#provider.listMachines({ signal });
    const bmdbMachines = await session.transact((q) => q.getProvidedMachines({ provider: this.#provider.type }), { signal });
    const plan = planReconcile(providerMachines, bmdbMachines, { maxCount: this.#maxCount, chunkSize: this.#chunkSize }, this.#entryBackoff.backingOff());
    if (plan.undefinedAvailability.length > 0) {
      this.#log.warn({ providerIds: plan.undefinedAvailability }, 'provider listed machines with undefined availability; skipping them');
    }
    if (plan.missingFromBmdb.length > 0 || plan.missingFromProvider.length > 0) {
      this.#log.error(
        { missingFromBmdb: plan.missingFromBmdb, missingFromProvider: plan.missingFromProvider },
        'provider and BMDB are out of sync: refusing to create machines until an operator fixes it',
      );
      return { created: 0, desynced: true };
    }
    this.#log.debug({ atProvider: providerMachines.length, inBmdb: bmdbMachines.length, toCreate: plan.toCreate.length }, 'reconciled');
    await this.#refreshRebootable(session, providerMachines, bmdbMachines, signal);
    let created = 0;
    const failed: string[] = [];
    for (const machine of plan.toCreate) {
      if (!(await this.#creationBucket.take(signal))) break;
      try {
        const result = await this.#provider.createMachine(session, { unusedMachine: machine }, { signal });
        created++;
        this.#entryBackoff.succeeded(machine.id);
        this.#log.info({ providerId: result.id, address: result.address }, 'created machine');
      } catch (err) {
        if (signal?.aborted || err instanceof SessionExpiredError) throw err;
        if (sqlState(err) === UNIQUE_VIOLATION) {
          // Another shepherd enrolled it between our listing and our insert: expected, and done.
          this.#log.debug({ providerId: machine.id }, 'machine was enrolled by someone else meanwhile');
          continue;
        }
        // One machine's failure must not starve the others: note it, back
        // only this entry off, and go on with the rest of the round.
        failed.push(machine.id);
        const backoffMs = this.#entryBackoff.failed(machine.id);
        this.#log.warn({ providerId: machine.id, cause: describeError(err), backoffMs }, 'could not create machine; retrying it later');
      }
    }
    return failed.length > 0 ? { created, desynced: false, failed } : { created, desynced: false };
  }

  /** Keeps each Provided tag's rebootable flag in line with the provider (a BMC added to or removed from an entry). */
  async #refreshRebootable(session: Session, providerMachines: readonly ProviderMachine[], bmdbMachines: readonly MachineProvided[], signal?: AbortSignal): Promise<void> {
    const stored = new Map(bmdbMachines.map((m) => [m.providerId, m.providerRebootable]));
    for (const machine of providerMachines) {
      const rebootable = machine.rebootable ?? true;
      const was = stored.get(machine.id);
      if (was === undefined || was === rebootable) continue;
      await session.transact((q) => q.setProviderRebootable({ provider: this.#provider.type, providerId: machine.id, rebootable }), { signal });
      this.#log.info({ providerId: machine.id, rebootable }, rebootable ? 'machine can now be rebooted: a recovery candidate again' : 'machine can no longer be rebooted: never a recovery candidate');
    }
  }
}
