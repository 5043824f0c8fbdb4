// The operator actions (README.md#operating-a-fleet), one entry
// each. An entry declares its arguments (the CLI makes flags of them, the HTTP
// API reads them from the JSON body), says what it would do to a machine in
// its current state or refuses, and then does it. runAction wraps every entry
// in one transaction with the machine row locked and an audit entry.
import { PROCESSES, SHEPHERD_PROCESSES, type MachineFacts, type Process, type Queries } from '../bmdb/index.ts';
import { ActionArgumentError } from './errors.ts';
import { checkInstallArguments, describeInstall, imageRequestBytes, type InstallArguments } from './install-request.ts';

export interface ActionArgumentSpec {
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  /** Allowed values, when the argument is one of a closed set. */
  readonly oneOf?: readonly string[];
}

/** What apply gets besides the machine: who acts and why (also written to the audit trail). */
export interface ApplyContext {
  readonly actor: string;
  readonly reason: string | null;
  readonly signal?: AbortSignal | undefined;
}

export interface ActionDefinition<A = Record<string, unknown>> {
  readonly name: string;
  readonly summary: string;
  readonly arguments: readonly ActionArgumentSpec[];
  /** Turns raw arguments (JSON body, CLI flags) into typed ones; throws ActionArgumentError. */
  parseArguments(raw: Readonly<Record<string, unknown>>): A;
  /** What the action will do to this machine, in one line; or the reason it does not apply. */
  plan(m: MachineFacts, args: A): { refused: string } | { change: string };
  /** Makes the change; runs in the transaction that locked the machine and `plan` approved. */
  apply(q: Queries, m: MachineFacts, args: A, opts: ApplyContext): Promise<void>;
}

/** Checks a raw argument object against the specs: only known names, required ones present, strings within bounds. */
function readArguments(specs: readonly ActionArgumentSpec[], raw: Readonly<Record<string, unknown>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(raw)) {
    if (!specs.some((s) => s.name === key)) throw new ActionArgumentError(`unknown argument ${JSON.stringify(key)}${specs.length ? `; this action takes ${specs.map((s) => s.name).join(', ')}` : '; this action takes none'}`);
  }
  for (const s of specs) {
    const v = raw[s.name];
    if (v === undefined || v === null || v === '') {
      if (s.required) throw new ActionArgumentError(`argument ${s.name} is required (${s.description})`);
      continue;
    }
    if (typeof v !== 'string') throw new ActionArgumentError(`argument ${s.name} must be a string`);
    // eslint-disable-next-line no-control-regex
    if (v.length > 4096 || /[\u0000-\u001f\u007f]/.test(v)) throw new ActionArgumentError(`argument ${s.name} must be one line of at most 4096 characters`);
    if (s.oneOf && !s.oneOf.includes(v)) throw new ActionArgumentError(`argument ${s.name} must be one of ${s.oneOf.join(', ')}`);
    out[s.name] = v;
  }
  return out;
}

const noArguments = (specs: readonly ActionArgumentSpec[]) => (raw: Readonly<Record<string, unknown>>) => {
  readArguments(specs, raw);
  return {};
};

function heldShepherdWork(m: MachineFacts): string | undefined {
  const held = m.work.filter((w) => SHEPHERD_PROCESSES.includes(w.process));
  return held.length ? `${held.map((w) => w.process).join(', ')} work is held (session ${held[0]!.sessionId}); wait for it to end` : undefined;
}

/** An installation request that has no report of its generation yet. */
function pendingGeneration(m: MachineFacts): number | undefined {
  const rq = m.installationRequestGeneration;
  return rq !== null && m.installationReportGeneration !== rq ? rq : undefined;
}

/** A time long before any real heartbeat: the recovery predicate finds it older than every silence threshold. */
const LONG_AGO = new Date(0);

const recover: ActionDefinition = {
  name: 'recover',
  summary: 'make the machine a recovery candidate now (its heartbeat is aged past every threshold and its recovery backoff dropped); the recoverer reboots it on its next poll, within its own guards',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (m.quarantined) return { refused: 'the machine is quarantined; release it first' };
    if (!m.agentStartedAt) return { refused: 'no agent was started on it (no AgentStarted tag), so there is nothing to recover; the initializer takes it over' };
    const held = heldShepherdWork(m);
    if (held) return { refused: held };
    const backoff = m.backoffs.some((b) => b.process === 'ShepherdRecovery');
    return { change: `heartbeat aged to ${LONG_AGO.toISOString()}${backoff ? ', ShepherdRecovery backoff dropped' : ''}: the recoverer takes it next` };
  },
  async apply(q, m, _args, opts) {
    // Aging the heartbeat hides whether the agent heartbeated since the last
    // reboot, which resets the escalation: settle that first.
    await q.settleRecoveryAttempts({ machineId: m.machineId }, opts);
    await q.setAgentHeartbeat({ machineId: m.machineId, at: LONG_AGO }, opts);
    await q.deleteBackoffs({ machineId: m.machineId, process: 'ShepherdRecovery' }, opts);
  },
};

const reinit: ActionDefinition = {
  name: 'reinit',
  summary: 'drop AgentStarted and the heartbeat, so the initializer starts the agent again (with a fresh key)',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (!m.agentStartedAt) return { refused: 'no agent was started on it (no AgentStarted tag); the initializer takes it over already' };
    const held = heldShepherdWork(m);
    if (held) return { refused: held };
    return { change: `AgentStarted (since ${m.agentStartedAt.toISOString()})${m.heartbeatAt ? ' and the heartbeat' : ''} dropped: the initializer starts the agent again` };
  },
  async apply(q, m, _args, opts) {
    await q.deleteAgentStarted({ machineId: m.machineId }, opts);
    await q.deleteAgentHeartbeat({ machineId: m.machineId }, opts);
  },
};

const clearBackoffArgs: readonly ActionArgumentSpec[] = [{ name: 'process', description: 'the process whose backoff goes; all when not given', required: false, oneOf: PROCESSES }];
const clearBackoff: ActionDefinition<{ process?: Process | undefined }> = {
  name: 'clear-backoff',
  summary: 'drop the backoff of one process (or of all), so the next poll may take the machine and the next backoff starts from its initial interval',
  arguments: clearBackoffArgs,
  parseArguments: (raw) => ({ process: readArguments(clearBackoffArgs, raw).process as Process | undefined }),
  plan(m, a) {
    const gone = m.backoffs.filter((b) => a.process === undefined || b.process === a.process);
    if (gone.length === 0) return { refused: a.process ? `it has no ${a.process} backoff` : 'it has no backoff' };
    return { change: `backoff dropped: ${gone.map((b) => `${b.process} (${b.active ? `until ${b.until.toISOString()}` : 'expired'})`).join(', ')}` };
  },
  async apply(q, m, a, opts) {
    await q.deleteBackoffs({ machineId: m.machineId, process: a.process }, opts);
  },
};

const acceptHostKey: ActionDefinition = {
  name: 'accept-host-key',
  summary: 'forget the pinned SSH host key, so the next takeover records the key the machine shows now',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (!m.hostKeyFingerprint) return { refused: 'no SSH host key is recorded; the next takeover records one anyway' };
    return { change: `host key ${m.hostKeyFingerprint} forgotten: the next takeover pins the key it is shown` };
  },
  async apply(q, m, _args, opts) {
    await q.deleteSshHostKey({ machineId: m.machineId }, opts);
  },
};

const installArgs: readonly ActionArgumentSpec[] = [
  { name: 'image', description: 'http(s) URL of the raw disk image the agent writes', required: true },
  { name: 'sha256', description: 'SHA-256 of the whole image, 64 hex digits; the agent checks it before it reboots', required: true },
  { name: 'device', description: 'the target device, e.g. /dev/sda', required: true },
  { name: 'postInstallCommand', description: 'shell command the agent runs after the image is written and verified', required: false },
];
const install: ActionDefinition<InstallArguments> = {
  name: 'install',
  summary: 'write an image installation request with the next generation; the agent picks it up on its next heartbeat, writes and verifies the image, reports and reboots',
  arguments: installArgs,
  parseArguments: (raw) => checkInstallArguments(readArguments(installArgs, raw)),
  plan(m, a) {
    const pending = pendingGeneration(m);
    if (pending !== undefined) return { refused: `the installation request of generation ${pending} is still pending; cancel-install it first` };
    return { change: describeInstall(nextGeneration(m), a) };
  },
  async apply(q, m, a, opts) {
    const generation = nextGeneration(m);
    await q.setOsInstallationRequest({ machineId: m.machineId, generation, raw: imageRequestBytes(generation, a) }, opts);
  },
};
function nextGeneration(m: MachineFacts): number {
  return Math.max(m.installationRequestGeneration ?? 0, m.installationReportGeneration ?? 0) + 1;
}

const cancelInstall: ActionDefinition = {
  name: 'cancel-install',
  summary: 'remove the pending OS installation request (one the agent has not reported on yet); an installation the agent has already started runs to its end and is reported',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    const pending = pendingGeneration(m);
    if (pending === undefined) {
      return { refused: m.installationRequestGeneration === null ? 'it has no installation request' : `the request of generation ${m.installationRequestGeneration} has its report already` };
    }
    return { change: `installation request of generation ${pending} removed` };
  },
  async apply(q, m, _args, opts) {
    await q.deleteOsInstallationRequest({ machineId: m.machineId }, opts);
  },
};

const decommission: ActionDefinition = {
  name: 'decommission',
  summary: 'remove the machine from the BMDB (its tags and backoffs go with it); its work history and audit entries stay',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (m.work.length) return { refused: `${m.work.map((w) => w.process).join(', ')} work is held (session ${m.work[0]!.sessionId}); wait for it to end` };
    return { change: `machine removed from the BMDB${m.providerId !== null ? ` (provider id ${m.providerId}; a provisioner that still lists it as used stops to report the mismatch)` : ''}` };
  },
  async apply(q, m, _args, opts) {
    await q.deleteMachine({ machineId: m.machineId }, opts);
  },
};

const quarantine: ActionDefinition = {
  name: 'quarantine',
  summary: 'take the machine out of every shepherd workflow until it is released (docs/architecture.md#recovery-guards)',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (m.quarantined) return { refused: 'the machine is already quarantined' };
    return { change: 'add a Quarantined tag: no shepherd process touches the machine until it is released' };
  },
  async apply(q, m, _args, opts) {
    await q.quarantineMachine({ machineId: m.machineId, reason: opts.reason ?? `quarantined by ${opts.actor}`, by: opts.actor }, { signal: opts.signal });
  },
};

const release: ActionDefinition = {
  name: 'release',
  summary: 'remove the Quarantined tag and clear the recovery and agent-start attempt counters',
  arguments: [],
  parseArguments: noArguments([]),
  plan(m) {
    if (!m.quarantined) return { refused: 'the machine is not quarantined' };
    return { change: 'remove the Quarantined tag and clear the attempt counters: the shepherd handles the machine again' };
  },
  async apply(q, m, _args, opts) {
    await q.releaseMachine({ machineId: m.machineId, by: opts.actor, ...(opts.reason ? { reason: opts.reason } : {}) }, { signal: opts.signal });
  },
};

/** Every action by name. */
export const ACTIONS: Readonly<Record<string, ActionDefinition<unknown>>> = Object.freeze(
  Object.fromEntries(([quarantine, release, recover, reinit, clearBackoff, acceptHostKey, install, cancelInstall, decommission] as ActionDefinition<unknown>[]).map((a) => [a.name, a])),
);

export const ACTION_NAMES: readonly string[] = Object.freeze(Object.keys(ACTIONS));
