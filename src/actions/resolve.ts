// Turns what an operator types into machine ids: a machine id, an id prefix
// or a provider id. The same rule wherever the machines come from (the BMDB
// directly, or webug's /api/resolve for the CLI's --api).
import { findMachines, type Bmdb, type MachineRef, type Queryable } from '../bmdb/index.ts';
import { AmbiguousMachineError, UnknownMachineError } from './errors.ts';

/** How many matches a selector reads at most: enough to tell "one" from "several". */
const MATCHES = 10;

/** The one machine a selector names, looked up in `db`; throws UnknownMachineError or AmbiguousMachineError. */
export async function resolveMachineIn(db: Queryable, selector: string, opts: { signal?: AbortSignal } = {}): Promise<MachineRef> {
  const s = selector.trim();
  if (s === '') throw new UnknownMachineError(selector);
  const found = await findMachines(db, { selector: s, limit: MATCHES }, opts);
  if (found.length === 0) throw new UnknownMachineError(selector);
  // A full id or a provider id may also be the prefix of nothing else; an exact match wins.
  const exact = found.filter((m) => m.machineId === s.toLowerCase() || m.providerId === s);
  if (exact.length === 1) return exact[0]!;
  if (found.length > 1) throw new AmbiguousMachineError(selector, found.map((m) => m.machineId));
  return found[0]!;
}

/** resolveMachineIn in a transaction of its own. */
export function resolveMachine(bmdb: Bmdb, selector: string, opts: { signal?: AbortSignal } = {}): Promise<MachineRef> {
  return bmdb.transact('operator', (q) => resolveMachineIn(q.db, selector, opts), opts);
}
