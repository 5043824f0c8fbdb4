// Turns what an operator types into machine ids: a machine id, an id prefix
// or a provider id.
import type { Bmdb, MachineRef } from '../bmdb/index.ts';
import { AmbiguousMachineError, UnknownMachineError } from './errors.ts';

/** The one machine a selector names; throws UnknownMachineError or AmbiguousMachineError. */
export async function resolveMachine(bmdb: Bmdb, selector: string, opts: { signal?: AbortSignal } = {}): Promise<MachineRef> {
  const s = selector.trim();
  if (s === '') throw new UnknownMachineError(selector);
  const found = await bmdb.transact('operator', (q) => q.findMachines({ selector: s, limit: 10 }, opts), opts);
  if (found.length === 0) throw new UnknownMachineError(selector);
  // A full id or a provider id may also be the prefix of nothing else; an exact match wins.
  const exact = found.filter((m) => m.machineId === s.toLowerCase() || m.providerId === s);
  if (exact.length === 1) return exact[0]!;
  if (found.length > 1) throw new AmbiguousMachineError(selector, found.map((m) => m.machineId));
  return found[0]!;
}
