// The stats exporter ("scruffy"): reads the BMDB every collection interval and
// sets Prometheus gauges. It holds no session and writes nothing.
//
// A round that fails (database down, a query aborted) keeps every gauge at
// its last value and counts the failure; the next round is tried at the usual
// interval. A database outage is logged by the process's outage reporter
// (src/bmdb/outage.ts), so the rounds it fails go to debug here; any other
// failure (a SQL error, say) is logged once per streak of failed rounds.
// Shutdown has two stages: stop() ends the loop after the round in flight,
// and aborts that round once the grace is over.
import { Counter, Gauge } from 'prom-client';
import type { Bmdb } from '../bmdb/index.ts';
import { sleep } from '../lib/index.ts';
import type { CollectContext, StatsCollector, StatsCollectorFactory } from './collector.ts';
import { DEFAULT_COLLECTORS } from './collectors.ts';
import { resolveScruffyOptions, type ResolvedScruffyOptions, type ScruffyOptions } from './options.ts';
import { readOnly } from './read-only.ts';

export type ScruffyState = 'created' | 'running' | 'stopping' | 'stopped';

/** Thrown by start() when the exporter was already started or stopped. */
export class ScruffyStateError extends Error {
  override readonly name = 'ScruffyStateError';
}

export class ScruffyExporter {
  readonly options: ResolvedScruffyOptions;
  #state: ScruffyState = 'created';
  readonly #collectors: readonly StatsCollector[];
  readonly #read;
  readonly #failures: Counter;
  readonly #lastSuccess: Gauge;
  /** Stage one: no new round. */
  readonly #stopLooping = new AbortController();
  /** Stage two: the round in flight is aborted. */
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #failing = false;
  /** The current streak of failed rounds was logged at error (not only covered by an outage). */
  #failingLoudly = false;
  readonly #outage: Bmdb['outage'];

  constructor(bmdb: Bmdb, opts: ScruffyOptions & { collectors?: readonly StatsCollectorFactory[] }) {
    this.options = resolveScruffyOptions(opts);
    const registers = [this.options.registry];
    this.#failures = new Counter({ name: 'scruffy_collection_failures_total', help: 'stats collections that failed (the gauges kept their last values)', registers });
    this.#lastSuccess = new Gauge({ name: 'scruffy_last_successful_collection_timestamp_seconds', help: 'Unix time of the last stats collection that succeeded', registers });
    this.#collectors = (opts.collectors ?? DEFAULT_COLLECTORS).map((f) => f(this.options.registry, this.options));
    this.#read = readOnly(bmdb);
    this.#outage = bmdb.outage;
  }

  get state(): ScruffyState {
    return this.#state;
  }

  /** Starts collecting: a first round now, then one every collection interval. */
  start(): void {
    if (this.#state !== 'created') throw new ScruffyStateError(`cannot start a stats exporter that is ${this.#state}`);
    this.#state = 'running';
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopLooping.signal.aborted) {
      await this.collectOnce();
      await sleep(this.options.collectionIntervalMs, this.#stopLooping.signal);
    }
  }

  /**
   * One round: every collector reads, then (only if all succeeded) every one
   * sets its gauges. Returns whether the round succeeded; never throws.
   */
  async collectOnce(opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#abort.signal]) : this.#abort.signal;
    const ctx: CollectContext = { read: this.#read, options: this.options, signal };
    const log = this.options.logger;
    let current = '';
    try {
      const apply: Array<() => void> = [];
      for (const c of this.#collectors) {
        current = c.name;
        apply.push(await c.collect(ctx));
      }
      for (const set of apply) set();
      this.#lastSuccess.set(Date.now() / 1000);
      if (this.#failingLoudly) log.info('stats collection succeeded again');
      else if (this.#failing) log.debug('stats collection succeeded again');
      this.#failing = false;
      this.#failingLoudly = false;
      return true;
    } catch (err) {
      if (signal.aborted) return false; // shutting down: not a failure of the BMDB
      this.#failures.inc();
      this.#failing = true;
      if (this.#outage.covers(err)) {
        log.debug({ err, collector: current }, 'stats collection failed: the database is unreachable (the outage is logged once for the process)');
      } else if (!this.#failingLoudly) {
        log.error({ err, collector: current }, 'stats collection failed; the gauges keep their last values until a collection succeeds');
        this.#failingLoudly = true;
      } else {
        log.debug({ err, collector: current }, 'stats collection failed again');
      }
      return false;
    }
  }

  /** Stops collecting: the round in flight may finish within graceMs, then it is aborted. */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped') return;
    if (this.#state === 'created') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#stopLooping.abort(new Error('stats exporter stopping'));
    const grace = opts.graceMs ?? this.options.shutdownGraceMs;
    const timer = setTimeout(() => this.#abort.abort(new Error(`stats exporter did not stop within ${grace} ms`)), grace);
    try {
      await this.#loop;
    } finally {
      clearTimeout(timer);
      this.#abort.abort(new Error('stats exporter stopped'));
      this.#state = 'stopped';
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
