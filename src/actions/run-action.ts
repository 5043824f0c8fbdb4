// Runs one action on one machine: one transaction that locks the machine row,
// reads its facts, asks the action's plan, applies it and appends the audit
// entry. A refusal changes nothing and is not audited; a dry run only plans.
import type { Bmdb, Processor } from '../bmdb/index.ts';
import { ACTIONS, ACTION_NAMES } from './action-table.ts';
import { ActionArgumentError, ActionRefusedError, UnknownActionError, UnknownMachineError } from './errors.ts';

export interface ActionRequest {
  readonly action: string;
  readonly machineId: string;
  /** Who acts: recorded in the audit trail. One line, at most 200 characters. */
  readonly actor: string;
  readonly arguments?: Readonly<Record<string, unknown>> | undefined;
  /** Why; optional, recorded in the audit trail. At most 1000 characters. */
  readonly reason?: string | undefined;
  /** Only say what would change; write nothing. */
  readonly dryRun?: boolean | undefined;
}

export interface ActionOutcome {
  readonly action: string;
  readonly machineId: string;
  readonly providerId: string | null;
  /** What changed (or, in a dry run, would change), in one line. */
  readonly result: string;
  readonly dryRun: boolean;
  /** The audit entry's id; absent in a dry run. */
  readonly auditId?: string;
}

export interface RunActionOptions {
  readonly signal?: AbortSignal | undefined;
  /** The metrics label of the transaction; default `operator`. */
  readonly processor?: Processor | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkText(name: string, v: string | undefined, max: number, required: boolean): string | null {
  if (v === undefined || v === '') {
    if (required) throw new ActionArgumentError(`${name} is required`);
    return null;
  }
  if (v.length > max) throw new ActionArgumentError(`${name} is longer than ${max} characters`);
  // eslint-disable-next-line no-control-regex -- tabs and newlines are allowed, other control characters not
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v)) throw new ActionArgumentError(`${name} may not hold control characters`);
  return v;
}

/**
 * Throws UnknownActionError, ActionArgumentError (bad arguments, actor or
 * reason), UnknownMachineError (no such machine) or ActionRefusedError (the
 * action does not apply to the machine's state); database errors pass through.
 */
export async function runAction(bmdb: Bmdb, req: ActionRequest, opts: RunActionOptions = {}): Promise<ActionOutcome> {
  const def = ACTIONS[req.action];
  if (!def || !Object.hasOwn(ACTIONS, req.action)) throw new UnknownActionError(req.action, ACTION_NAMES);
  const actor = checkText('the actor', req.actor, 200, true)!;
  if (actor.includes('\n')) throw new ActionArgumentError('the actor must be one line');
  const reason = checkText('the reason', req.reason, 1000, false);
  const rawArgs = req.arguments ?? {};
  const args = def.parseArguments(rawArgs);
  if (!UUID.test(req.machineId)) throw new UnknownMachineError(req.machineId);
  const machineId = req.machineId.toLowerCase();
  const dryRun = req.dryRun === true;
  const { signal } = opts;
  return bmdb.transact(
    opts.processor ?? 'operator',
    async (q) => {
      const facts = await q.lockMachineFacts({ machineId }, { signal });
      if (!facts) throw new UnknownMachineError(machineId);
      const plan = def.plan(facts, args);
      if ('refused' in plan) throw new ActionRefusedError(def.name, machineId, plan.refused);
      const base = { action: def.name, machineId, providerId: facts.providerId, result: plan.change, dryRun };
      if (dryRun) return base;
      await def.apply(q, facts, args, { actor, reason, signal });
      const entry = await q.insertAuditEntry(
        { actor, action: def.name, machineId, providerId: facts.providerId, arguments: { ...rawArgs }, reason, result: plan.change },
        { signal },
      );
      return { ...base, auditId: entry.id };
    },
    { signal },
  );
}
