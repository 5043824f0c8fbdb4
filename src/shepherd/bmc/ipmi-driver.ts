// A BmcDriver for IPMI over LAN (RMCP+), through Debian's `ipmitool -I lanplus`.
// The password reaches ipmitool only through the IPMI_PASSWORD environment
// variable (`-E`), never its command line, where any local user could read it.
// Each run is bounded by a timeout and killed when the caller aborts.
//
// Redfish reset types map onto `chassis power`: On → on, ForceOff → off,
// GracefulShutdown → soft (ACPI power button), ForceRestart → reset, PowerCycle →
// cycle. IPMI has no graceful restart, so GracefulRestart is not allowed.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { silentLogger } from '../../lib/index.ts';
import { BmcAuthError, BmcConnectionError, BmcError, ResetTypeNotAllowedError } from './errors.ts';
import { SerialQueue } from './serial-queue.ts';
import type { BmcCallOptions, BmcDriver, BmcOptions, PowerReading, ResetType } from './types.ts';

export const IPMI_DEFAULTS = Object.freeze({ requestMs: 20_000, port: 623, cipherSuite: 3, ipmitool: 'ipmitool' });

const CHASSIS_POWER: Partial<Record<ResetType, string>> = {
  On: 'on',
  ForceOff: 'off',
  GracefulShutdown: 'soft',
  ForceRestart: 'reset',
  PowerCycle: 'cycle',
};

export const IPMI_RESET_TYPES: readonly ResetType[] = Object.freeze(Object.keys(CHASSIS_POWER) as ResetType[]);

/** `host[:port]` or `[v6]:port` into its parts. */
export function parseIpmiEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint) ?? /^([^:]+)(?::(\d+))?$/.exec(endpoint);
  if (!m) throw new BmcError(`IPMI endpoint must be host[:port], got ${endpoint}`);
  const port = m[2] === undefined ? IPMI_DEFAULTS.port : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BmcError(`IPMI endpoint ${endpoint} has a bad port`);
  return { host: m[1]!, port };
}

export class IpmiDriver implements BmcDriver {
  readonly endpoint: string;
  readonly #options: BmcOptions;
  readonly #host: string;
  readonly #port: number;
  readonly #queue = new SerialQueue();
  readonly #log: Logger;

  constructor(options: BmcOptions, deps: { log?: Logger } = {}) {
    const { host, port } = parseIpmiEndpoint(options.endpoint);
    this.#host = host;
    this.#port = port;
    this.endpoint = `${host}:${port}`;
    this.#options = options;
    this.#log = deps.log ?? silentLogger();
  }

  async powerState(opts: BmcCallOptions = {}): Promise<PowerReading> {
    const out = (await this.#ipmitool(['chassis', 'power', 'status'], opts.signal)).trim();
    const m = /Chassis Power is (on|off)\b/i.exec(out);
    if (!m) return { state: 'Unknown', raw: out };
    return { state: m[1]!.toLowerCase() === 'on' ? 'On' : 'Off', raw: out };
  }

  allowedResets(): Promise<readonly ResetType[]> {
    return Promise.resolve(IPMI_RESET_TYPES);
  }

  async reset(type: ResetType, opts: BmcCallOptions = {}): Promise<void> {
    const verb = CHASSIS_POWER[type];
    if (!verb) throw new ResetTypeNotAllowedError(`IPMI BMC ${this.endpoint} cannot do ResetType ${type}; it can do ${IPMI_RESET_TYPES.join(', ')}`);
    await this.#ipmitool(['chassis', 'power', verb], opts.signal);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #ipmitool(command: string[], signal: AbortSignal | undefined): Promise<string> {
    const ipmi = { ...IPMI_DEFAULTS, ...this.#options.ipmi };
    const timeoutMs = this.#options.timeouts?.requestMs ?? IPMI_DEFAULTS.requestMs;
    const args = ['-I', 'lanplus', '-C', String(ipmi.cipherSuite), '-H', this.#host, '-p', String(this.#port), '-U', this.#options.username, '-E', '-N', '2', '-R', '2', ...command];
    return this.#queue.run(
      () =>
        new Promise<string>((resolve, reject) => {
          signal?.throwIfAborted();
          const env = { ...process.env, IPMI_PASSWORD: this.#options.password.reveal() };
          execFile(ipmi.ipmitool, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', signal, encoding: 'utf8' }, (err, stdout, stderr) => {
            if (!err) {
              resolve(stdout);
              return;
            }
            const what = `ipmitool ${command.join(' ')} on ${this.endpoint}`;
            const detail = scrub(stderr.trim().split('\n').at(-1) ?? '', this.#options.password.reveal());
            this.#log.debug({ endpoint: this.endpoint, command: command.join(' '), stderr: detail }, 'ipmitool failed');
            if (signal?.aborted) reject(new BmcConnectionError(`${what}: aborted`, { cause: signal.reason }));
            else if ((err as { killed?: boolean }).killed) reject(new BmcConnectionError(`${what}: no answer within ${timeoutMs} ms`));
            else if (/RAKP|unauthori[sz]ed|password|user name/i.test(stderr)) reject(new BmcAuthError(`${what}: credentials of user ${this.#options.username} refused (${detail})`));
            else if ((err as NodeJS.ErrnoException).code === 'ENOENT') reject(new BmcError(`${ipmi.ipmitool} not found (apt-get install ipmitool)`));
            else reject(new BmcConnectionError(`${what} failed: ${detail || err.message}`));
          });
        }),
    );
  }
}

/** Removes a secret from text a tool printed, in case it ever echoes it. */
function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
