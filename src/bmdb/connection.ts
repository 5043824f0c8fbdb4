// openBmdb: the entry point of the library.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { silentLogger } from '../lib/logger.ts';
import type { Driver, IsolationLevel } from './driver.ts';
import { PgDriver } from './driver-pg.ts';
import { DatabaseOutage } from './outage.ts';
import { pgTimeoutsSchema, type PgTimeouts } from './pg-timeouts.ts';
import { PgliteDriver } from './driver-pglite.ts';
import { BmdbConfigError } from './errors.ts';
import { bmdbMetrics, type BmdbMetrics } from './metrics.ts';
import { migrateDown, migrateUp, migrationStatus, type MigrationStatus } from './migrations.ts';
import type { Processor } from './model.ts';
import { bindQueries, type Queries } from './queries/index.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';
import { collectExpiredSessions, Session, type SessionContext, type SessionOptions } from './session.ts';
import { runTransaction } from './transact.ts';
import { parseBmdbUrl } from './url.ts';

export interface BmdbOptions {
  /** See parseBmdbUrl. Default `pglite://memory`. */
  url?: string | undefined;
  /** Apply pending migrations before returning. Default false. */
  migrate?: boolean | undefined;
  /** Transaction isolation. Default `read committed`; CockroachDB always runs `serializable`. */
  isolation?: IsolationLevel | undefined;
  /** Connection pool size for PostgreSQL. Default 20. */
  maxConnections?: number | undefined;
  /** Bounds on a silent PostgreSQL connection (see pg-timeouts.ts). Default PG_TIMEOUT_DEFAULTS. */
  pgTimeouts?: Partial<PgTimeouts> | undefined;
  /** How long after its deadline a dead session is collected. Default 10 000 ms. */
  sessionGraceMs?: number | undefined;
  /** Retry of serialization failures and deadlocks. */
  retry?: Partial<RetryPolicy> | undefined;
  /** Where the BMDB counters are registered. Default: a private registry. */
  metricsRegistry?: Registry | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

const optionsSchema = z.object({
  url: z.string().min(1).default('pglite://memory'),
  migrate: z.boolean().default(false),
  isolation: z.enum(['read committed', 'serializable']).default('read committed'),
  maxConnections: z.number().int().min(1).max(10_000).default(20),
  pgTimeouts: pgTimeoutsSchema,
  sessionGraceMs: z.number().int().min(0).default(10_000),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).default(DEFAULT_RETRY_POLICY.maxAttempts),
      baseDelayMs: z.number().min(0).default(DEFAULT_RETRY_POLICY.baseDelayMs),
      maxDelayMs: z.number().min(0).default(DEFAULT_RETRY_POLICY.maxDelayMs),
      budgetMs: z.number().min(0).default(DEFAULT_RETRY_POLICY.budgetMs),
    })
    .default(DEFAULT_RETRY_POLICY),
});

export type ResolvedBmdbOptions = Readonly<z.infer<typeof optionsSchema>>;

/** Fills defaults and rejects bad values once, with a message naming the option. */
export function resolveBmdbOptions(opts: BmdbOptions): ResolvedBmdbOptions {
  const strip = Object.fromEntries(Object.entries(opts).filter(([k, v]) => v !== undefined && k in optionsSchema.shape));
  const r = optionsSchema.safeParse(strip);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BmdbConfigError(`invalid BMDB option ${issue.path.join('.')}: ${issue.message}`);
  }
  parseBmdbUrl(r.data.url);
  return Object.freeze(r.data);
}

export class Bmdb {
  readonly options: ResolvedBmdbOptions;
  readonly driver: Driver;
  readonly metrics: BmdbMetrics;
  readonly logger: Logger;
  /** Queries in autocommit mode, for reads that need no session (UI, stats). */
  readonly queries: Queries;
  /** This connection's outage reporter: ask it whether an outage already accounts for an error before logging that error loudly. */
  readonly outage: DatabaseOutage;
  #ctx: SessionContext;

  constructor(driver: Driver, options: ResolvedBmdbOptions, registry: Registry, logger: Logger, outage = new DatabaseOutage(logger)) {
    this.driver = driver;
    this.outage = outage;
    this.options = options;
    this.logger = logger;
    this.metrics = bmdbMetrics(registry);
    this.queries = bindQueries(driver);
    this.#ctx = {
      driver,
      isolation: options.isolation,
      metrics: this.metrics,
      retry: options.retry,
      logger,
      graceMs: options.sessionGraceMs,
      outage,
    };
  }

  /** A description of the database safe to print (no password). */
  get description(): string {
    return this.driver.description;
  }

  startSession(opts: SessionOptions): Promise<Session> {
    return Session.start(this.#ctx, opts);
  }

  /** A transaction outside any session (no liveness check), with retries. */
  transact<T>(processor: Processor, fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return runTransaction(this.#ctx, processor, (tx) => fn(bindQueries(tx)), opts);
  }

  /** Deletes sessions dead for longer than the grace period, with their work. */
  collectExpiredSessions(processor: Processor, opts: { signal?: AbortSignal } = {}): Promise<number> {
    return collectExpiredSessions(this.#ctx, processor, opts);
  }

  migrateUp(opts: { signal?: AbortSignal } = {}): Promise<number[]> {
    return migrateUp(this.driver, { ...opts, logger: this.logger });
  }

  migrateDown(opts: { steps?: number; signal?: AbortSignal } = {}): Promise<number[]> {
    return migrateDown(this.driver, { ...opts, logger: this.logger });
  }

  migrationStatus(opts: { signal?: AbortSignal } = {}): Promise<MigrationStatus> {
    return migrationStatus(this.driver, opts);
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connects to the BMDB (and migrates it when asked). */
export async function openBmdb(opts: BmdbOptions = {}): Promise<Bmdb> {
  const resolved = resolveBmdbOptions(opts);
  const logger = (opts.logger ?? silentLogger()).child({ module: 'bmdb' });
  const target = parseBmdbUrl(resolved.url);
  const outage = new DatabaseOutage(logger);
  const driver: Driver =
    target.kind === 'postgres'
      ? new PgDriver({ url: target.url, maxConnections: resolved.maxConnections, timeouts: resolved.pgTimeouts, outage, logger })
      : await PgliteDriver.open(target.dataDir);
  const bmdb = new Bmdb(driver, resolved, opts.metricsRegistry ?? new Registry(), logger, outage);
  if (resolved.migrate) {
    try {
      await bmdb.migrateUp({ signal: opts.signal });
    } catch (err) {
      await bmdb.close().catch(() => {});
      throw err;
    }
  }
  return bmdb;
}
