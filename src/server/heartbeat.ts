// One agent heartbeat against the BMDB (docs/architecture.md#callback-server): authenticate,
// store what the agent reported, record the heartbeat, hand back the pending
// installation request. A heartbeat that carries a report (hardware,
// installation result or installation progress) runs all of it in
// its own session transaction; a plain one goes through the batcher, which
// writes many in one statement.
import { toBinary } from '@bufbuild/protobuf';
import type { Queries } from '../bmdb/index.ts';
import {
  AgentHardwareReportSchema,
  OSInstallationProgressSchema,
  OSInstallationReportSchema,
  OSInstallationRequestSchema,
  decodeMessage,
  type AgentHeartbeatRequest,
  type OSInstallationRequest,
} from '../proto/index.ts';
import { AgentAuthenticationError, InvalidHeartbeatError } from './errors.ts';
import type { HeartbeatBatcher } from './heartbeat-batcher.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Transactor = <T>(fn: (q: Queries) => Promise<T>, opts: { signal?: AbortSignal }) => Promise<T>;

/** Where heartbeats are written: per call through `transact`, plain ones through `batcher` when given. */
export interface HeartbeatStore {
  readonly transact: Transactor;
  readonly batcher?: HeartbeatBatcher;
}

export interface HeartbeatInput {
  readonly request: AgentHeartbeatRequest;
  /** The caller's raw Ed25519 key from its client certificate. */
  readonly publicKey: Uint8Array;
}

export interface HeartbeatOutcome {
  readonly machineId: string;
  readonly hardwareReportStored: boolean;
  readonly installationReport?: { generation: number; result: 'Success' | 'Error' };
  /** Generation of the installation progress stored, if the call carried one. */
  readonly installationProgressGeneration?: number;
  readonly installationRequest?: OSInstallationRequest;
}

/** A machine id as the BMDB stores it. @throws InvalidHeartbeatError for anything but a UUID. */
export function parseMachineId(raw: string): string {
  if (!UUID.test(raw)) throw new InvalidHeartbeatError(`machine id ${JSON.stringify(raw.slice(0, 64))} is not a UUID`);
  return raw.toLowerCase();
}

function generationOf(g: bigint, what: string): number {
  if (g < 0n || g > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidHeartbeatError(`${what} generation ${g} is out of range`);
  return Number(g);
}

/**
 * Validates the request, then runs the heartbeat transaction.
 * @throws InvalidHeartbeatError for malformed fields (nothing written).
 * @throws AgentAuthenticationError when (machine id, key) matches no AgentStarted tag.
 * Database errors pass through unchanged.
 */
export async function recordHeartbeat(store: HeartbeatStore, input: HeartbeatInput, opts: { signal?: AbortSignal } = {}): Promise<HeartbeatOutcome> {
  const { transact } = store;
  const { request } = input;
  const machineId = parseMachineId(request.machineId);

  const hardware = request.hardwareReport ? toBinary(AgentHardwareReportSchema, request.hardwareReport) : undefined;
  const hardwareRaw = hardware && hardware.length > 0 ? hardware : undefined;

  let report: { generation: number; result: 'Success' | 'Error'; raw: Uint8Array } | undefined;
  if (request.installationReport) {
    const r = request.installationReport;
    if (r.result.case === undefined) throw new InvalidHeartbeatError('installation report has no result');
    report = {
      generation: generationOf(r.generation, 'installation report'),
      result: r.result.case === 'success' ? 'Success' : 'Error',
      raw: toBinary(OSInstallationReportSchema, r),
    };
  }

  const progress = request.installationProgress
    ? { generation: generationOf(request.installationProgress.generation, 'installation progress'), raw: toBinary(OSInstallationProgressSchema, request.installationProgress) }
    : undefined;

  // Why the key did not match, read in one transaction after the refusal.
  // The takeover's finish may commit between the heartbeat's check and this
  // one (the agent starts heartbeating before the shepherd has recorded its
  // key): then the work is gone and the key matches now, which is the same
  // benign race as a takeover still running, not a stranger's key. The call
  // is refused either way; the agent's next try is accepted.
  const refuse = async (): Promise<never> => {
    const why = await transact(async (q) => {
      if (await q.hasActiveWork({ machineId, process: 'ShepherdAgentStart' }, opts)) return 'starting' as const;
      return (await q.authenticateAgent({ machineId, publicKey: input.publicKey }, opts)) ? ('just-started' as const) : ('unknown' as const);
    }, opts);
    if (why === 'starting') throw new AgentAuthenticationError('no AgentStarted tag yet: the initializer is still taking this machine over', { takeoverInProgress: true });
    if (why === 'just-started') throw new AgentAuthenticationError('the AgentStarted tag was written while this heartbeat was checked: the takeover just finished', { takeoverInProgress: true });
    throw new AgentAuthenticationError('no AgentStarted tag matches this machine id and key');
  };

  let pending: { raw: Uint8Array } | null | undefined;
  if (store.batcher && !hardwareRaw && !report && !progress) {
    const accepted = await store.batcher.submit({ machineId, publicKey: input.publicKey }, opts);
    if (!accepted) return refuse();
    pending = accepted.pending;
  } else {
    pending = await transact(async (q) => {
      if (!(await q.authenticateAgent({ machineId, publicKey: input.publicKey }, opts))) return 'refused' as const;
      if (hardwareRaw) await q.setHardwareReport({ machineId, raw: hardwareRaw }, opts);
      // Unlike the original, a failed report write fails the whole call, so the
      // agent sends it again instead of the result being lost.
      if (report) await q.setOsInstallationReport({ machineId, ...report }, opts);
      if (progress) await q.setOsInstallationProgress({ machineId, ...progress }, opts);
      await q.setAgentHeartbeat({ machineId }, opts);
      return q.getPendingInstallation({ machineId }, opts);
    }, opts).then((r) => (r === 'refused' ? refuse() : r));
  }

  return {
    machineId,
    hardwareReportStored: hardwareRaw !== undefined,
    ...(report ? { installationReport: { generation: report.generation, result: report.result } } : {}),
    ...(progress ? { installationProgressGeneration: progress.generation } : {}),
    ...(pending ? { installationRequest: decodeMessage(OSInstallationRequestSchema, pending.raw) } : {}),
  };
}
