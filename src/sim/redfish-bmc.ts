// A fake Redfish BMC for tests and the simulated fleet: HTTPS on loopback with a
// certificate no system root trusts, its own credentials, resets that take effect
// asynchronously, ResetType@Redfish.AllowableValues enforced (400 otherwise),
// 401 on bad credentials, injectable 503s and 429s (also a random share of
// every request, as a busy BMC answers), an optional demand for sessions that
// counts the ones never deleted, and a log of received resets.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createBmcCertificate, type BmcCertificate } from './redfish-bmc-cert.ts';
import { readBody, redfishError, send, SERVICE_ROOT } from './redfish-bmc-http.ts';
import { FakePower, type FakePowerHooks, type FakePowerState, type FakePowerTiming } from './redfish-bmc-power.ts';

export interface FakeRedfishBmcOptions extends FakePowerTiming, FakePowerHooks {
  readonly username: string;
  readonly password: string;
  /** System Ids; default one system, `1`. */
  readonly systems?: readonly string[];
  /** Default GracefulRestart, ForceRestart, ForceOff, On, GracefulShutdown, PowerCycle. */
  readonly allowedResetTypes?: readonly string[];
  /** Publish no AllowableValues at all (older firmware). */
  readonly omitAllowableValues?: boolean;
  /** Want credentials for the service root too (against the spec, as some BMCs do). */
  readonly serviceRootNeedsAuth?: boolean;
  /** Refuse Basic auth: only session tokens are accepted. */
  readonly requireSessions?: boolean;
  /** Added before every answer, like a BMC's slow web server. Default 5 ms. */
  readonly latencyMs?: number;
  readonly initialPower?: 'On' | 'Off';
  /** Reuse an identity (the simulated fleet shares one); default a fresh one. */
  readonly certificate?: BmcCertificate;
  /** Share (0..1) of requests answered 503 Service Unavailable at random; default 0. */
  readonly unavailableShare?: number;
  /** Random numbers in [0, 1) for unavailableShare; default Math.random. */
  readonly random?: () => number;
}

/** How often the BMC answered a reset request of one type with one status. */
export interface ResetAnswerCount {
  readonly resetType: string;
  readonly status: number;
  readonly count: number;
}

export interface ReceivedReset {
  readonly system: string;
  readonly resetType: string;
  readonly at: Date;
}

const DEFAULT_RESET_TYPES = ['GracefulRestart', 'ForceRestart', 'ForceOff', 'On', 'GracefulShutdown', 'PowerCycle'];

export class FakeRedfishBmc {
  #certificate: BmcCertificate | undefined;
  /** Resets accepted (2xx), oldest first. */
  readonly resets: ReceivedReset[] = [];
  /** Method and path of every request, oldest first. */
  readonly requests: string[] = [];
  /** Most requests ever handled at the same time. */
  maxInFlight = 0;
  sessionsCreated = 0;
  sessionsDeleted = 0;
  /** When set, reported as every system's PowerState instead of the real one (`null`: what some BMCs send while they boot). */
  reportedPowerState: string | null | undefined;
  readonly #opts: FakeRedfishBmcOptions;
  readonly #power = new Map<string, FakePower>();
  readonly #sessions = new Map<string, string>(); // token → session id
  readonly #faults: Array<{ status: number; retryAfter?: string }> = [];
  readonly #resetAnswers = new Map<string, ResetAnswerCount>();
  #server: Server | undefined;
  #inFlight = 0;
  #port = 0;

  constructor(opts: FakeRedfishBmcOptions) {
    this.#opts = opts;
    this.#certificate = opts.certificate;
    for (const id of opts.systems ?? ['1']) this.#power.set(id, new FakePower(opts.initialPower ?? 'On', opts, opts));
  }

  /** The TLS identity it serves (made at start unless given). */
  get certificate(): BmcCertificate {
    if (!this.#certificate) throw new Error('the fake BMC has no certificate before start()');
    return this.#certificate;
  }

  /** `https://127.0.0.1:<port>`, once started. */
  get endpoint(): string {
    return `https://127.0.0.1:${this.#port}`;
  }

  /** Every reset request by type and answer (accepted ones and refused ones), in first-seen order. */
  resetCounts(): readonly ResetAnswerCount[] {
    return [...this.#resetAnswers.values()];
  }

  /** Sessions created and never deleted. */
  get leakedSessions(): number {
    return this.#sessions.size;
  }

  powerState(system = this.#firstSystem()): FakePowerState {
    return this.#system(system).state;
  }

  /** Makes the next `count` requests (of any kind) answer `status`, e.g. 503, or 429 with Retry-After seconds. */
  failNext(status: number, count = 1, retryAfterSeconds?: number): void {
    for (let i = 0; i < count; i++) this.#faults.push({ status, ...(retryAfterSeconds === undefined ? {} : { retryAfter: String(retryAfterSeconds) }) });
  }

  async start(port = 0): Promise<this> {
    this.#certificate ??= await createBmcCertificate();
    const server = createServer({ cert: this.certificate.certPem, key: this.certificate.keyPem }, (req, res) => void this.#handle(req, res));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    for (const p of this.#power.values()) p.stop();
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    let resetType: string | undefined;
    try {
      const body = await readBody(req);
      await new Promise((r) => setTimeout(r, this.#opts.latencyMs ?? 5));
      const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
      this.requests.push(`${req.method} ${path}`);
      if (req.method === 'POST' && path.endsWith('/Actions/ComputerSystem.Reset')) resetType = String((body as { ResetType?: unknown } | undefined)?.ResetType);
      const fault = this.#faults.shift() ?? this.#randomFault();
      if (fault) send(res, fault.status, redfishError(`injected ${fault.status}`), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      else this.#route(req, path, body, res);
    } catch (err) {
      send(res, 500, redfishError((err as Error).message));
    } finally {
      this.#inFlight--;
      if (resetType !== undefined) this.#countReset(resetType, res.statusCode);
    }
  }

  #randomFault(): { status: number; retryAfter?: string } | undefined {
    const share = this.#opts.unavailableShare ?? 0;
    return share > 0 && (this.#opts.random ?? Math.random)() < share ? { status: 503 } : undefined;
  }

  #countReset(resetType: string, status: number): void {
    const key = `${resetType} ${status}`;
    this.#resetAnswers.set(key, { resetType, status, count: (this.#resetAnswers.get(key)?.count ?? 0) + 1 });
  }

  #route(req: IncomingMessage, path: string, body: unknown, res: ServerResponse): void {
    const m = req.method;
    if (m === 'POST' && path === '/redfish/v1/SessionService/Sessions') return this.#login(body, res);
    const open = m === 'GET' && path === '/redfish/v1' && !this.#opts.serviceRootNeedsAuth;
    if (!open && !this.#authorized(req)) return send(res, 401, redfishError('authentication required'), { 'www-authenticate': 'Basic realm="fake BMC"' });
    if (m === 'GET' && path === '/redfish/v1') return send(res, 200, SERVICE_ROOT);
    const session = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
    if (m === 'DELETE' && session) return this.#logout(session[1]!, res);
    if (m === 'GET' && path === '/redfish/v1/Systems') {
      const members = [...this.#power.keys()].map((id) => ({ '@odata.id': `/redfish/v1/Systems/${id}` }));
      return send(res, 200, { '@odata.id': '/redfish/v1/Systems', Name: 'Computer System Collection', 'Members@odata.count': members.length, Members: members });
    }
    const system = /^\/redfish\/v1\/Systems\/([^/]+)$/.exec(path);
    if (m === 'GET' && system && this.#power.has(system[1]!)) return send(res, 200, this.#systemResource(system[1]!));
    const reset = /^\/redfish\/v1\/Systems\/([^/]+)\/Actions\/ComputerSystem\.Reset$/.exec(path);
    if (m === 'POST' && reset && this.#power.has(reset[1]!)) return this.#reset(reset[1]!, body, res);
    send(res, 404, redfishError(`no resource ${path}`));
  }

  #systemResource(id: string): object {
    const power = this.#system(id);
    const action: Record<string, unknown> = { target: `/redfish/v1/Systems/${id}/Actions/ComputerSystem.Reset` };
    if (!this.#opts.omitAllowableValues) action['ResetType@Redfish.AllowableValues'] = this.#allowed();
    return {
      '@odata.id': `/redfish/v1/Systems/${id}`,
      '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
      Id: id,
      Name: `System ${id}`,
      PowerState: this.reportedPowerState === undefined ? power.state : this.reportedPowerState,
      LastResetTime: power.lastResetTime,
      Actions: { '#ComputerSystem.Reset': action },
    };
  }

  #reset(id: string, body: unknown, res: ServerResponse): void {
    const type = (body as { ResetType?: unknown } | undefined)?.ResetType;
    if (typeof type !== 'string' || !this.#allowed().includes(type)) {
      return send(res, 400, redfishError(`ResetType ${String(type)} is not one of ${this.#allowed().join(', ')}`, 'Base.1.8.ActionParameterValueNotInList'));
    }
    this.resets.push({ system: id, resetType: type, at: new Date() });
    this.#system(id).apply(type);
    send(res, 204, undefined);
  }

  #login(body: unknown, res: ServerResponse): void {
    const { UserName, Password } = (body ?? {}) as { UserName?: unknown; Password?: unknown };
    if (typeof UserName !== 'string' || typeof Password !== 'string' || !this.#credentialsMatch(UserName, Password)) return send(res, 401, redfishError('invalid credentials'));
    const id = String(++this.sessionsCreated);
    const token = randomBytes(16).toString('hex');
    this.#sessions.set(token, id);
    const location = `/redfish/v1/SessionService/Sessions/${id}`;
    send(res, 201, { '@odata.id': location, Id: id, UserName }, { 'x-auth-token': token, location });
  }

  #logout(id: string, res: ServerResponse): void {
    for (const [token, sid] of this.#sessions) {
      if (sid === id) {
        this.#sessions.delete(token);
        this.sessionsDeleted++;
        return send(res, 204, undefined);
      }
    }
    send(res, 404, redfishError(`no session ${id}`));
  }

  #authorized(req: IncomingMessage): boolean {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return this.#sessions.has(token);
    if (this.#opts.requireSessions) return false;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!basic) return false;
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 && this.#credentialsMatch(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  #credentialsMatch(user: string, password: string): boolean {
    const a = Buffer.from(`${user}\0${password}`);
    const b = Buffer.from(`${this.#opts.username}\0${this.#opts.password}`);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #allowed(): readonly string[] {
    return this.#opts.allowedResetTypes ?? DEFAULT_RESET_TYPES;
  }

  #firstSystem(): string {
    return [...this.#power.keys()][0]!;
  }

  #system(id: string): FakePower {
    const p = this.#power.get(id);
    if (!p) throw new Error(`fake BMC has no system ${id}`);
    return p;
  }
}
