// The initializer (docs/architecture.md#initializer): a control loop that starts the agent
// on provided machines over SSH and records its public key as AgentStarted.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { agentStartCandidateStatement, SHEPHERD_ACTOR, type Backoff, type CandidateStatement, type MachineProvided, type Queries } from '../bmdb/index.ts';
import { describeError, type ControlLoop, type Task } from '../controlloop/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { trustOnFirstUse } from './host-key-trust.ts';
import type { Provider } from './provider.ts';
import { withSshSession, type HostKeyPolicy, type SshAuth, type SshClient } from './ssh/index.ts';
import { runTakeover } from './takeover.ts';
import { shepherdMetrics, type ShepherdMetrics, type TakeoverResultLabel } from './shepherd-metrics.ts';

/** 5 min, growing ×1.2 up to 4 h; a little jitter so a failed batch does not return as one. */
export const INITIALIZER_BACKOFF: Backoff = Object.freeze({ initialMs: 5 * 60_000, maximumMs: 4 * 3600_000, exponent: 1.2, jitter: 0.1 });

export const INITIALIZER_DEFAULTS = Object.freeze({
  agentTargetPath: '/root/agent',
  connectTimeoutMs: 2_000,
  execTimeoutMs: 60_000,
  /** Failed agent starts in a row after which the machine is quarantined. */
  maxAttempts: 10,
});

export interface InitializerOptions {
  readonly provider: Provider;
  readonly sshClient: SshClient;
  readonly sshUser: string;
  readonly sshAuth: SshAuth;
  /** `tofu` (default) records the first host key in the BMDB and refuses others. */
  readonly hostKeyMode?: 'tofu' | 'insecure-ignore';
  /** Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** Bounds the whole exchange; default 60 s. */
  readonly execTimeoutMs?: number;
  /** The agent executable on this host. */
  readonly agentExecutablePath: string;
  /** Where it goes on the machine; default /root/agent. */
  readonly agentTargetPath?: string;
  /** host:port of the agent callback server, passed to the agent. */
  readonly agentEndpoint: string;
  /** DER of the callback server's CA certificate, passed to the agent. */
  readonly agentEndpointCaCertificate?: Uint8Array;
  /** Failed agent starts in a row before the machine is quarantined; default 10 (docs/architecture.md#recovery-guards). */
  readonly maxAttempts?: number;
  /** Retry policy after a failed takeover; default INITIALIZER_BACKOFF. */
  readonly backoff?: Backoff;
  /** Where the takeover metrics go; none unless given. */
  readonly metricsRegistry?: Registry;
  readonly logger?: Logger;
}

export class Initializer implements ControlLoop {
  readonly name = 'initializer';
  readonly process = 'ShepherdAgentStart';
  readonly processor = 'shepherd-initializer';
  readonly defaultBackoff: Backoff;
  readonly #o: InitializerOptions;
  readonly #log: Logger;
  readonly #metrics: ShepherdMetrics | undefined;

  constructor(options: InitializerOptions) {
    this.#o = Object.freeze({ ...options });
    this.defaultBackoff = options.backoff ?? INITIALIZER_BACKOFF;
    this.candidateStatement = agentStartCandidateStatement({ provider: options.provider.type });
    this.#log = (options.logger ?? silentLogger()).child({ component: 'initializer' });
    this.#metrics = options.metricsRegistry ? shepherdMetrics(options.metricsRegistry) : undefined;
  }

  /** The candidate query as one statement, so each claim is one statement and one round trip (Session.claim). */
  readonly candidateStatement: CandidateStatement<MachineProvided>;

  getMachines(q: Queries, limit: number): Promise<MachineProvided[]> {
    return q.getAgentStartCandidates({ provider: this.#o.provider.type, limit });
  }

  async processMachine(task: Task): Promise<void> {
    const started = performance.now();
    let result: TakeoverResultLabel = 'success';
    try {
      await this.#startAgent(task);
    } catch (err) {
      result = task.signal.aborted ? 'aborted' : 'failure';
      if (task.work.state === 'open' && !task.signal.aborted) await this.#countFailure(task, describeError(err));
      throw err;
    } finally {
      this.#metrics?.takeover.observe({ result }, (performance.now() - started) / 1000);
    }
  }

  // One more failed start in a row; at the limit the machine is quarantined
  // (the runner still fails the work, so it also backs off as usual).
  async #countFailure(task: Task, cause: string): Promise<void> {
    const { machineId } = task.machine;
    const max = this.#o.maxAttempts ?? INITIALIZER_DEFAULTS.maxAttempts;
    const log = this.#log.child({ machineId });
    try {
      await task.session.transact(async (q) => {
        const a = await q.recordAttempt({ machineId, process: this.process, cause });
        if (a.attempts < max) return;
        const reason = `${a.attempts} failed agent starts in a row; last: ${a.lastCauses}`;
        if (await q.quarantineMachine({ machineId, reason, by: SHEPHERD_ACTOR })) log.warn({ attempts: a.attempts, reason }, 'machine quarantined');
      }, { signal: task.signal });
    } catch (err) {
      log.warn({ err }, 'could not count the failed agent start');
    }
  }

  async #startAgent(task: Task): Promise<void> {
    const { machine, signal } = task;
    const o = this.#o;
    const log = this.#log.child({ machineId: machine.machineId, providerId: machine.providerId });
    const target = await o.provider.getMachine(machine.providerId, { signal });
    const hostKey: HostKeyPolicy =
      o.hostKeyMode === 'insecure-ignore' ? { mode: 'insecure-ignore' } : trustOnFirstUse(task.session, machine.machineId, { signal, log });
    log.info({ address: target.address }, 'starting agent');
    const result = await withSshSession(
      o.sshClient,
      { address: target.address },
      {
        username: o.sshUser,
        auth: o.sshAuth,
        hostKey,
        connectTimeoutMs: o.connectTimeoutMs ?? INITIALIZER_DEFAULTS.connectTimeoutMs,
        execTimeoutMs: o.execTimeoutMs ?? INITIALIZER_DEFAULTS.execTimeoutMs,
        signal,
      },
      (connection, exchangeSignal) =>
        runTakeover(
          connection,
          {
            agentExecutablePath: o.agentExecutablePath,
            agentTargetPath: o.agentTargetPath ?? INITIALIZER_DEFAULTS.agentTargetPath,
            init: {
              machineId: machine.machineId,
              bmaasEndpoint: o.agentEndpoint,
              ...(o.agentEndpointCaCertificate ? { caCertificate: o.agentEndpointCaCertificate } : {}),
            },
          },
          { signal: exchangeSignal },
        ).catch((err: unknown) => {
          const stderr = (err as { stderr?: unknown }).stderr;
          if (typeof stderr === 'string' && stderr !== '') log.warn({ stderr }, 'agent stderr');
          throw err;
        }),
    );
    if (result.stderr !== '') log.info({ stderr: result.stderr }, 'agent stderr');
    for (const warning of result.warnings) log.warn({ warning }, 'agent warning during takeover');
    // One batch that also carries the COMMIT: the finish is one round trip.
    await task.work.finish((q) => q.recordAgentStart({ machineId: machine.machineId, publicKey: result.key }, { signal, commits: true }), { signal });
    log.info({ publicKey: Buffer.from(result.key).toString('hex') }, 'agent started');
  }
}
