// One simulated machine: an SSH endpoint whose exec runs the real agent's
// takeover and then the real heartbeat daemon in this process, talking TLS to
// the real callback server, and a Redfish BMC whose resets power it off (agent
// gone, SSH refused) and on again (SSH back after the boot delay). What
// survives a restart of `bmaas dev` (host key, BMC password, boot count, agent
// state, whether the agent was running or the power off) lives in the
// machine's directory, so machines keep running while bmaas is down.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { encodeResponse, readAgentState, recordingInstaller, runDaemon, takeover, writeAgentState } from '../agent/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { generateEd25519KeyPair, isUsableEd25519Key } from '../lib/ssh-keygen.ts';
import { sleep } from '../lib/sleep.ts';
import type { Fault } from './fault-plan.ts';
import type { BmcCertificate } from './redfish-bmc-cert.ts';
import type { ResetAnswerCount } from './redfish-bmc.ts';
import { startSimBmc, type SimBmc, type SimBmcTiming } from './sim-bmc.ts';
import { simImageInstaller } from './sim-disks.ts';
import { simulatedHardware } from './sim-hardware.ts';
import { startSimSshServer, type ExecReply, type SimSshServer } from './sim-ssh-server.ts';
import type { UploadedFile } from './sftp-upload-server.ts';

/** How fast simulated machines behave; `bmaas dev` scales these down. */
export interface SimTiming {
  /** The agents' heartbeat interval. */
  readonly heartbeatIntervalMs: number;
  /** How long a `silent` machine's agent heartbeats before it hangs. */
  readonly silentAfterMs: number;
  /** Extra time a `slowSsh` machine takes to answer an exec. */
  readonly slowSshDelayMs: number;
  /** The agents' per-heartbeat timeout. */
  readonly callTimeoutMs: number;
  /** Longest retry delay of an agent whose heartbeats fail. */
  readonly backoffMaxMs: number;
  /** From power on until SSH answers again. */
  readonly bootDelayMs: number;
  readonly bmc: SimBmcTiming;
}

export interface SimMachineOptions {
  readonly index: number;
  readonly id: string;
  readonly location: string;
  /** The machine's own directory (host key, agent state, boot record). */
  readonly dir: string;
  readonly fault: Fault;
  /** OpenSSH public key line the shepherd logs in with. */
  readonly authorizedKey: string;
  /** The callback server agents should use now; resumed agents are pointed at it. */
  readonly agentEndpoint: string;
  readonly timing: SimTiming;
  /** The TLS identity every simulated BMC serves. */
  readonly bmcCertificate: BmcCertificate;
  /** Share of BMC requests answered 503 at random. */
  readonly bmcUnavailableShare: number;
  readonly logger?: Logger;
}

/** How the device list reaches the machine's BMC. */
export interface SimBmcAccess {
  /** `https://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly username: string;
  readonly passwordFile: string;
}

interface BootRecord {
  /** Boots after the first one. */
  boots: number;
  /** Whether an agent daemon was running when the record was last written. */
  agentRunning: boolean;
  /** Whether the power was off (a reset under way, or a dead machine). */
  poweredOff: boolean;
}

const SIMULATED_TAKEOVER_FAILURE = 'simulated fault: the agent daemon would not start';

export class SimMachine {
  readonly id: string;
  readonly index: number;
  readonly fault: Fault;
  readonly location: string;
  readonly #o: SimMachineOptions;
  readonly #log: Logger;
  #ssh: SimSshServer | undefined;
  #bmc: SimBmc | undefined;
  /** Whether it runs and sshd answers: false while off or booting. */
  #up = true;
  #bootTimer: NodeJS.Timeout | undefined;
  #record: BootRecord = { boots: 0, agentRunning: false, poweredOff: false };
  #agent: AbortController | undefined;
  #agentDone: Promise<void> = Promise.resolve();
  #saving: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(o: SimMachineOptions) {
    this.#o = o;
    this.id = o.id;
    this.index = o.index;
    this.fault = o.fault;
    this.location = o.location;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'sim', simMachine: o.id });
  }

  get address(): string {
    if (!this.#ssh) throw new Error(`simulated machine ${this.id} is not started`);
    return this.#ssh.address;
  }

  get bmc(): SimBmcAccess {
    if (!this.#bmc) throw new Error(`simulated machine ${this.id} is not started`);
    return { endpoint: this.#bmc.bmc.endpoint, username: this.#bmc.username, passwordFile: this.#bmc.passwordFile };
  }

  /** The reset requests its BMC answered, by type and status. */
  bmcResetCounts(): readonly ResetAnswerCount[] {
    return this.#bmc?.bmc.resetCounts() ?? [];
  }

  get #agentDir(): string {
    return path.join(this.#o.dir, 'agent');
  }

  async start(): Promise<void> {
    await mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
    this.#record = await this.#loadRecord();
    const hostKey = await this.#loadOrCreateHostKey();
    this.#up = !this.#record.poweredOff;
    this.#ssh = await startSimSshServer({
      hostKey,
      authorizedKey: this.#o.authorizedKey,
      blackhole: this.fault === 'unreachable',
      up: () => this.#up,
      exec: (command, stdin, files) => this.#exec(command, stdin, files),
    });
    this.#bmc = await startSimBmc({
      dir: this.#o.dir,
      certificate: this.#o.bmcCertificate,
      unavailableShare: this.#o.bmcUnavailableShare,
      ...this.#o.timing.bmc,
      initialPower: this.#record.poweredOff ? 'Off' : 'On',
      hooks: {
        onPowerOff: () => this.#powerOff('BMC reset'),
        onPowerOn: () => this.#powerOn(),
        // A dead machine's first reset is its last: it never powers on again.
        canPowerOn: () => this.fault !== 'dead',
      },
    });
    // The machine kept running while bmaas was down: so did its agent.
    if (this.#up && this.#record.agentRunning) await this.#resumeAgent();
  }

  // The machine restarts itself (its OS, not its BMC): down now, up again after the boot delay.
  async #restartItself(why: string): Promise<void> {
    this.#powerOff(why);
    this.#powerOn();
    await this.#saving;
  }

  // Power gone: the agent with it, sshd refuses, open connections drop.
  #powerOff(why: string): void {
    this.#log.info({ why, boots: this.#record.boots }, 'simulated machine powered off');
    this.#up = false;
    clearTimeout(this.#bootTimer);
    this.#stopAgent();
    this.#ssh?.dropConnections();
    void this.#save({ agentRunning: false, poweredOff: true });
  }

  // A new boot: sshd answers after the boot delay; the agent waits for the
  // initializer to start it again, and a hung agent's fault is over.
  #powerOn(): void {
    void this.#save({ boots: this.#record.boots + 1, poweredOff: false });
    this.#log.info({ boots: this.#record.boots, bootDelayMs: this.#o.timing.bootDelayMs }, 'simulated machine powered on, booting');
    clearTimeout(this.#bootTimer);
    this.#bootTimer = setTimeout(() => {
      if (!this.#stopped) this.#up = true;
    }, this.#o.timing.bootDelayMs).unref();
  }

  /** Stops serving; the boot record keeps saying whether the agent runs, for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#bootTimer);
    this.#agent?.abort(new Error('simulation stopped'));
    this.#agent = undefined;
    await Promise.all([this.#ssh?.close(), this.#bmc?.bmc.stop(), this.#agentDone, this.#saving]);
  }

  async #exec(command: string, stdin: Buffer, files: ReadonlyMap<string, UploadedFile>): Promise<ExecReply> {
    if (this.fault === 'slowSsh') await sleep(this.#o.timing.slowSshDelayMs);
    // The initializer runs the uploaded agent by its quoted path and nothing else.
    const target = /^'(.*)'$/.exec(command)?.[1]?.replaceAll(`'\\''`, `'`) ?? command;
    const file = files.get(target);
    if (!file) return { stderr: `sh: 1: ${command}: not found\n`, exitCode: 127 };
    if ((file.mode & 0o111) === 0) return { stderr: `sh: 1: ${command}: Permission denied\n`, exitCode: 126 };
    const response = await takeover(new Uint8Array(stdin), { stateDir: this.#agentDir, startDaemon: () => this.#startAgent() });
    if (response.result.case === 'error') this.#log.info({ error: response.result.value.message }, 'takeover failed');
    return { stdout: encodeResponse(response), exitCode: 0 };
  }

  async #startAgent(): Promise<void> {
    if (this.fault === 'takeover') throw new Error(SIMULATED_TAKEOVER_FAILURE);
    await this.#save({ agentRunning: true });
    this.#launchAgent();
  }

  async #resumeAgent(): Promise<void> {
    try {
      const state = await readAgentState(this.#agentDir);
      const endpoint = this.#o.agentEndpoint;
      if (state.endpoint !== endpoint) await writeAgentState(this.#agentDir, { ...state, endpoint });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot resume the agent; it stays down until the machine is taken over again');
      await this.#save({ agentRunning: false });
      return;
    }
    this.#launchAgent();
  }

  #launchAgent(): void {
    // A repeated takeover replaces the daemon, as on a real machine.
    this.#stopAgent();
    if (this.#stopped) return;
    const controller = new AbortController();
    this.#agent = controller;
    const t = this.#o.timing;
    const log = this.#log.child({ component: 'sim-agent' });
    this.#agentDone = runDaemon({
      stateDir: this.#agentDir,
      pidFile: false,
      hardwareReport: () => Promise.resolve({ node: simulatedHardware(this.index), warnings: [] }),
      installers: { metropolis: recordingInstaller(path.join(this.#o.dir, 'installs.jsonl')), image: simImageInstaller(this.#o.dir) },
      reboot: () => this.#restartItself('installation finished'),
      intervalMs: t.heartbeatIntervalMs,
      callTimeoutMs: t.callTimeoutMs,
      backoffMaxMs: t.backoffMaxMs,
      logger: log,
      signal: controller.signal,
    }).catch((err: unknown) => log.error({ err }, 'simulated agent daemon failed'));
    if ((this.fault === 'silent' || this.fault === 'dead') && this.#record.boots === 0) {
      // Only the first boot hangs: the recoverer's reboot is what cures it (or, for a dead machine, kills it).
      setTimeout(() => {
        if (this.#agent !== controller) return;
        this.#log.info('simulated agent hangs: no more heartbeats until a reboot');
        this.#stopAgent();
        void this.#save({ agentRunning: false });
      }, t.silentAfterMs).unref();
    }
  }

  #stopAgent(): void {
    this.#agent?.abort(new Error('agent stopped'));
    this.#agent = undefined;
  }

  async #loadRecord(): Promise<BootRecord> {
    try {
      const r = JSON.parse(await readFile(path.join(this.#o.dir, 'machine.json'), 'utf8')) as Partial<BootRecord>;
      return { boots: Number.isInteger(r.boots) ? r.boots! : 0, agentRunning: r.agentRunning === true, poweredOff: r.poweredOff === true };
    } catch {
      return { boots: 0, agentRunning: false, poweredOff: false };
    }
  }

  #save(change: Partial<BootRecord>): Promise<void> {
    Object.assign(this.#record, change);
    const body = `${JSON.stringify(this.#record)}\n`;
    const file = path.join(this.#o.dir, 'machine.json');
    // Writes queue up so an older record never lands after a newer one.
    this.#saving = this.#saving
      .then(async () => {
        await writeFile(`${file}.tmp`, body);
        await rename(`${file}.tmp`, file);
      })
      .catch((err: unknown) => this.#log.warn({ err }, 'could not save the simulated boot record'));
    return this.#saving;
  }

  async #loadOrCreateHostKey(): Promise<string> {
    const file = path.join(this.#o.dir, 'ssh_host_ed25519_key');
    const stored = await readFile(file, 'utf8').catch(() => undefined);
    // A new key only for a new machine: the shepherd pins the first one it sees.
    // A stored key that does not parse (written before the generator was fixed)
    // never served SSH, so nothing pinned it and it can be replaced.
    if (stored !== undefined && isUsableEd25519Key(stored)) return stored;
    if (stored !== undefined) this.#log.warn('stored host key is unusable; generating a new one');
    const key = generateEd25519KeyPair().private;
    await writeFile(file, key, { mode: 0o600 });
    await chmod(file, 0o600);
    return key;
  }
}
