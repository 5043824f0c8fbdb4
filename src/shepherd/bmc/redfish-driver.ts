// A BmcDriver for Redfish (DMTF DSP0266/DSP0268): the service root leads to the
// Systems collection, the chosen ComputerSystem gives PowerState and the
// #ComputerSystem.Reset action, whose ResetType must be one the system lists.
//
// Allowed reset types come from `ResetType@Redfish.AllowableValues` on the
// action, else from the action's `@Redfish.ActionInfo` resource. When a BMC
// publishes neither (older firmware does), the driver allows the five types every
// implementation we know supports (On, ForceOff, GracefulShutdown, GracefulRestart,
// ForceRestart) and leaves the final word to the BMC, which answers 400 to others.
import type { Logger } from 'pino';
import { silentLogger } from '../../lib/index.ts';
import { bmcAgent } from './bmc-tls.ts';
import { BmcProtocolError, BmcSystemSelectionError, ResetTypeNotAllowedError } from './errors.ts';
import { RedfishClient } from './redfish-client.ts';
import { RESET_TYPES, type BmcCallOptions, type BmcDriver, type BmcOptions, type PowerReading, type PowerState, type ResetType } from './types.ts';

export const REDFISH_DEFAULTS = Object.freeze({ requestMs: 10_000, attempts: 4, backoffInitialMs: 500, backoffMaxMs: 10_000 });

/** Reset types assumed when a BMC does not say which it allows (see the file comment). */
export const FALLBACK_RESET_TYPES: readonly ResetType[] = Object.freeze(['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart']);

interface ResetAction {
  readonly target: string;
  readonly allowed: readonly ResetType[];
}

type Json = Record<string, unknown>;

export class RedfishDriver implements BmcDriver {
  readonly endpoint: string;
  readonly #options: BmcOptions;
  readonly #client: RedfishClient;
  readonly #agent: ReturnType<typeof bmcAgent>;
  #systemPath: string | undefined;
  #closed = false;

  constructor(options: BmcOptions, deps: { log?: Logger } = {}) {
    const log = deps.log ?? silentLogger();
    const base = new URL(options.endpoint);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new BmcProtocolError(`Redfish endpoint must be an http(s):// URL, got ${base.protocol}`);
    this.endpoint = base.origin;
    this.#options = options;
    this.#agent = bmcAgent(options.tls ?? 'verify', this.endpoint, log);
    const t = { ...REDFISH_DEFAULTS, ...options.timeouts };
    this.#client = new RedfishClient({
      base,
      username: options.username,
      password: options.password,
      agent: this.#agent,
      requestMs: t.requestMs,
      attempts: t.attempts,
      backoff: { initialMs: t.backoffInitialMs, maxMs: t.backoffMaxMs },
      sessions: options.sessions ?? false,
      log,
    });
  }

  async powerState(opts: BmcCallOptions = {}): Promise<PowerReading> {
    const system = await this.#system(opts.signal);
    const raw = typeof system.PowerState === 'string' ? system.PowerState : system.PowerState === undefined ? 'absent' : String(system.PowerState);
    const lastReset = typeof system.LastResetTime === 'string' ? system.LastResetTime : undefined;
    return { state: toPowerState(raw), raw, ...(lastReset ? { lastReset } : {}) };
  }

  async allowedResets(opts: BmcCallOptions = {}): Promise<readonly ResetType[]> {
    return (await this.#resetAction(opts.signal)).allowed;
  }

  async reset(type: ResetType, opts: BmcCallOptions = {}): Promise<void> {
    const action = await this.#resetAction(opts.signal);
    if (!action.allowed.includes(type)) {
      throw new ResetTypeNotAllowedError(`BMC ${this.endpoint} does not allow ResetType ${type} for ${this.#systemPath}; it allows ${action.allowed.join(', ') || 'none'}`);
    }
    await this.#client.call('POST', action.target, { ResetType: type }, opts.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
    this.#agent.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #resetAction(signal: AbortSignal | undefined): Promise<ResetAction> {
    const system = await this.#system(signal);
    const action = (system.Actions as Json | undefined)?.['#ComputerSystem.Reset'] as Json | undefined;
    if (!action || typeof action.target !== 'string') throw new BmcProtocolError(`BMC ${this.endpoint}: ${this.#systemPath} has no #ComputerSystem.Reset action`);
    let values = action['ResetType@Redfish.AllowableValues'];
    if (!Array.isArray(values) && typeof action['@Redfish.ActionInfo'] === 'string') {
      const info = (await this.#client.call('GET', action['@Redfish.ActionInfo'], undefined, signal)).json as Json | undefined;
      const parameters = Array.isArray(info?.Parameters) ? (info.Parameters as Json[]) : [];
      values = parameters.find((p) => p.Name === 'ResetType')?.AllowableValues;
    }
    const allowed = Array.isArray(values) ? values.filter((v): v is ResetType => (RESET_TYPES as readonly unknown[]).includes(v)) : FALLBACK_RESET_TYPES;
    return { target: action.target, allowed };
  }

  async #system(signal: AbortSignal | undefined): Promise<Json> {
    this.#systemPath ??= await this.#selectSystem(signal);
    return asObject((await this.#client.call('GET', this.#systemPath, undefined, signal)).json, this.#systemPath);
  }

  async #selectSystem(signal: AbortSignal | undefined): Promise<string> {
    const root = asObject((await this.#client.call('GET', '/redfish/v1/', undefined, signal, { anonymous: true })).json, 'service root');
    const sessions = odataId((root.Links as Json | undefined)?.Sessions);
    if (sessions) this.#client.sessionsPath = sessions;
    const systemsPath = odataId(root.Systems);
    if (!systemsPath) throw new BmcProtocolError(`BMC ${this.endpoint}: the service root has no Systems collection`);
    const collection = asObject((await this.#client.call('GET', systemsPath, undefined, signal)).json, systemsPath);
    const members = (Array.isArray(collection.Members) ? collection.Members : []).map(odataId).filter((m): m is string => m !== undefined);
    const wanted = this.#options.system;
    if (wanted === undefined) {
      if (members.length === 1) return members[0]!;
      throw new BmcSystemSelectionError(`BMC ${this.endpoint} exposes ${members.length} systems (${members.join(', ') || 'none'}); configure System to pick one`);
    }
    const bySegment = members.find((m) => trimSlash(m) === trimSlash(wanted) || trimSlash(m).split('/').at(-1) === wanted);
    if (bySegment) return bySegment;
    for (const member of members) {
      const system = asObject((await this.#client.call('GET', member, undefined, signal)).json, member);
      if (system.Id === wanted) return member;
    }
    throw new BmcSystemSelectionError(`BMC ${this.endpoint} has no system ${wanted}; it has ${members.join(', ') || 'none'}`);
  }
}

function toPowerState(raw: string): PowerState {
  return raw === 'On' || raw === 'Off' || raw === 'PoweringOn' || raw === 'PoweringOff' ? raw : 'Unknown';
}

function odataId(value: unknown): string | undefined {
  const id = (value as Json | undefined)?.['@odata.id'];
  return typeof id === 'string' ? id : undefined;
}

function trimSlash(path: string): string {
  return path.replace(/\/+$/, '');
}

function asObject(json: unknown, what: string): Json {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BmcProtocolError(`Redfish ${what} is not a JSON object`);
  return json as Json;
}
