// Where `bmaas machines` reads and acts: one interface, two implementations.
// DirectBackend opens the BMDB (--bmdb-url) and uses webug's loaders and the
// action layer in-process; ApiBackend (api-backend.ts) asks webug's JSON API
// (--api). The command code above them is the same for both.
import { ActionRefusedError, resolveMachine, runAction, UnknownMachineError, type ActionOutcome } from '../../actions/index.ts';
import { listAuditEntries, type AuditEntry, type Bmdb, type MachineRef } from '../../bmdb/index.ts';
import { loadMachine, selectFleet, type FleetRow, type MachineDetail, type WebugContext } from '../../webug/index.ts';

export interface ActRequest {
  readonly action: string;
  readonly machineId: string;
  readonly arguments: Readonly<Record<string, string>>;
  readonly reason: string | undefined;
  readonly dryRun: boolean;
  /** Who acts (direct only: through the API the token's name is the actor). */
  readonly actor: string;
}

/** An action's outcome on one machine: done (or, in a dry run, would be), or not, with why ("refused: …", "no machine matches …"). */
export type ActResult = { readonly ok: true; readonly outcome: ActionOutcome } | { readonly ok: false; readonly why: string };

export interface MachinesBackend {
  /** Where it reads, for messages ("the BMDB at …", "webug at …"). */
  readonly description: string;
  /**
   * The machines webug's fleet-list parameters select, in id order, at most `limit`.
   * @throws BadRequestError (webug's) for a bad filter, naming the parameter.
   */
  select(filter: URLSearchParams, limit: number, signal: AbortSignal): Promise<FleetRow[]>;
  /** @throws UnknownMachineError, or an ambiguity error whose message says so. */
  resolve(selector: string, signal: AbortSignal): Promise<MachineRef>;
  /** @throws webug's NotFoundError when the machine has neither a row nor history. */
  machine(machineId: string, signal: AbortSignal): Promise<MachineDetail>;
  audit(machineId: string, signal: AbortSignal): Promise<AuditEntry[]>;
  /** @throws ActionArgumentError for bad arguments; refusals and unknown machines are results. */
  act(req: ActRequest, signal: AbortSignal): Promise<ActResult>;
}

/** "reinit refused for machine …: no agent was started" → "refused: no agent was started". */
export const refusal = (message: string) => `refused: ${message.replace(/^.*?: /, '')}`;

export class DirectBackend implements MachinesBackend {
  readonly #bmdb: Bmdb;
  readonly #ctx: WebugContext;
  readonly description: string;

  constructor(bmdb: Bmdb, ctx: WebugContext) {
    this.#bmdb = bmdb;
    this.#ctx = ctx;
    this.description = bmdb.description;
  }

  select(filter: URLSearchParams, limit: number, signal: AbortSignal): Promise<FleetRow[]> {
    return selectFleet(this.#ctx, filter, limit, signal);
  }

  resolve(selector: string, signal: AbortSignal): Promise<MachineRef> {
    return resolveMachine(this.#bmdb, selector, { signal });
  }

  machine(machineId: string, signal: AbortSignal): Promise<MachineDetail> {
    return loadMachine(this.#ctx, machineId, signal);
  }

  audit(machineId: string, signal: AbortSignal): Promise<AuditEntry[]> {
    return this.#ctx.read((db) => listAuditEntries(db, { machineId, limit: 500 }, { signal }), { signal });
  }

  async act(req: ActRequest, signal: AbortSignal): Promise<ActResult> {
    try {
      const outcome = await runAction(this.#bmdb, req, { signal });
      return { ok: true, outcome };
    } catch (err) {
      if (err instanceof ActionRefusedError) return { ok: false, why: refusal(err.message) };
      if (err instanceof UnknownMachineError) return { ok: false, why: err.message };
      throw err;
    }
  }
}
