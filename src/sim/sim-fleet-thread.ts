// A SimFleet in a worker thread of its own. The simulated machines' side of
// every exchange (SSH servers, the agents' TLS and certificates, the BMCs)
// then runs on another core than the system it exercises. The fleet's log
// lines reach the logger given here. A worker thread cannot outlive its
// process, and stop() (or the worker failing) ends it.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { silentLogger } from '../lib/logger.ts';
import { FAULT_KINDS, planFaults, type Fault, type FaultKind } from './fault-plan.ts';
import type { FleetToParent, ParentToFleet, SimFleetWorkerData } from './sim-fleet-messages.ts';
import type { ResetAnswerCount } from './redfish-bmc.ts';
import type { SimFleetMachine, SimFleetOptions } from './sim-fleet.ts';

/** The worker stopped or failed while the fleet was expected to run. */
export class SimFleetWorkerError extends Error {
  override name = 'SimFleetWorkerError';
}

/** How long stop() waits for the machines to close before ending the thread anyway. */
const STOP_GRACE_MS = 10_000;

const LEVELS: Readonly<Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export class SimFleetThread {
  readonly bmcCaFile: string;
  /** Settles with why the worker ended (it also does after stop()); never rejects. */
  readonly failed: Promise<SimFleetWorkerError>;
  readonly #worker: Worker;
  readonly #machines: readonly SimFleetMachine[];
  readonly #faults: ReadonlyMap<string, Fault>;
  readonly #pending = new Map<number, (answer: Extract<FleetToParent, { type: 'resetCounts' }>) => void>();
  #nextId = 1;
  #lastCounts: readonly ResetAnswerCount[] = [];
  #cpuMs: number | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(worker: Worker, started: Extract<FleetToParent, { type: 'started' }>, faults: readonly Fault[], failed: Promise<SimFleetWorkerError>) {
    this.#worker = worker;
    this.#machines = started.machines;
    this.bmcCaFile = started.bmcCaFile;
    this.#faults = new Map(started.machines.map((m, i) => [m.id, faults[i] ?? 'none']));
    this.failed = failed;
    worker.on('message', (m: FleetToParent) => {
      if (m.type !== 'resetCounts') return;
      this.#pending.get(m.id)?.(m);
      this.#pending.delete(m.id);
    });
  }

  /** Starts the worker and waits until every machine serves. */
  static async start(o: SimFleetOptions): Promise<SimFleetThread> {
    const log = o.logger ?? silentLogger();
    const { logger: _logger, ...options } = o;
    const data: SimFleetWorkerData = { options, logLevel: log.level };
    const worker = new Worker(new URL('./sim-fleet-worker.ts', import.meta.url), { workerData: data });
    worker.on('message', (m: FleetToParent) => {
      if (m.type === 'log') relayLogLine(log, m.line);
    });
    const failed = new Promise<SimFleetWorkerError>((resolve) => {
      worker.once('error', (err) => resolve(new SimFleetWorkerError(`the simulated fleet's worker failed: ${err.message}`, { cause: err })));
      worker.once('exit', (code) => resolve(new SimFleetWorkerError(`the simulated fleet's worker exited (code ${code})`)));
    });
    const started = await new Promise<Extract<FleetToParent, { type: 'started' }>>((resolve, reject) => {
      worker.on('message', (m: FleetToParent) => {
        if (m.type === 'started') resolve(m);
        if (m.type === 'failed') reject(new SimFleetWorkerError(`the simulated fleet did not start: ${m.message}`));
      });
      void failed.then(reject);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new SimFleetThread(worker, started, planFaults(o.machines, o.faults, o.seed ?? 1), failed);
  }

  list(): SimFleetMachine[] {
    return [...this.#machines];
  }

  faultOf(id: string): Fault | undefined {
    return this.#faults.get(id);
  }

  faultCounts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const f of this.#faults.values()) if (f !== 'none') counts[f]++;
    return counts;
  }

  /** The reset answers as of the last refreshResetCounts(). */
  bmcResetCounts(): ResetAnswerCount[] {
    return [...this.#lastCounts];
  }

  /** The CPU time the fleet's thread had used as of the last refreshResetCounts(); undefined before. */
  get cpuMs(): number | undefined {
    return this.#cpuMs;
  }

  /** Asks the worker for the BMCs' reset answers (and its CPU time) now; the last ones known stay if it does not answer within a second. */
  async refreshResetCounts(): Promise<void> {
    const id = this.#nextId++;
    const answered = new Promise<Extract<FleetToParent, { type: 'resetCounts' }>>((resolve) => this.#pending.set(id, resolve));
    this.#post({ type: 'resetCounts', id });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 1000)));
    const answer = await Promise.race([answered, late, this.failed.then(() => undefined)]);
    clearTimeout(timer);
    this.#pending.delete(id);
    if (!answer) return;
    this.#lastCounts = answer.counts;
    this.#cpuMs = answer.cpuMs;
  }

  /** Stops every machine (given STOP_GRACE_MS), then ends the thread. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const stopped = new Promise<void>((resolve) => {
        this.#worker.on('message', (m: FleetToParent) => m.type === 'stopped' && resolve());
      });
      this.#post({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
      await Promise.race([stopped, grace, this.failed]);
      clearTimeout(timer);
      await this.#worker.terminate();
    })();
    return this.#stopped;
  }

  #post(m: ParentToFleet): void {
    this.#worker.postMessage(m);
  }
}

/** Logs one of the worker's JSON lines again through `log`, at its level, with its fields. */
function relayLogLine(log: Logger, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    log.warn({ line }, 'unreadable log line from the simulated fleet');
    return;
  }
  const { level, time: _time, pid: _pid, hostname: _hostname, msg, ...fields } = entry;
  const method = LEVELS[Number(level)] ?? 'info';
  log[method](fields, typeof msg === 'string' ? msg : '');
}
