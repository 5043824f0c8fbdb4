// Which machines a `bmaas machines` command acts on: the machines named on
// the command line (id, id prefix or provider id), or every machine that
// matches the fleet filters webug's list has (the same parser and query).
import { UsageError, type FlagSpec, type ParsedFlags } from '../../lib/flags.ts';
import { BadRequestError, type FleetRow } from '../../webug/index.ts';
import type { MachinesBackend } from './backend.ts';

/** Flags only `bmaas machines` has: read from BMAAS_MACHINES_<NAME>, so a generic BMAAS_STATUS does not select. */
export const own = (f: FlagSpec): FlagSpec => ({ ...f, env: `BMAAS_MACHINES_${f.name.toUpperCase().replaceAll('-', '_')}` });

/** Fleet filters as flags, and the webug list parameter each one becomes. */
const FILTERS: ReadonlyArray<{ flag: FlagSpec; param: string }> = [
  { param: 'q', flag: { name: 'search', type: 'string', placeholder: 'TEXT', description: 'machine id prefix, provider id prefix or address prefix' } },
  { param: 'provider', flag: { name: 'provider', type: 'string', placeholder: 'NAME', description: 'provider: Equinix, Lumen, None, Sim' } },
  { param: 'status', flag: { name: 'status', type: 'string', placeholder: 'STATUS', description: 'provider status: Running, Provisioning, …' } },
  { param: 'has', flag: { name: 'has', type: 'string', multiple: true, placeholder: 'TAG', description: 'a tag that must be present (agent_heartbeat, ssh_host_key, …); repeatable' } },
  { param: 'lacks', flag: { name: 'lacks', type: 'string', multiple: true, placeholder: 'TAG', description: 'a tag that must be absent; repeatable' } },
  { param: 'work', flag: { name: 'work', type: 'string', placeholder: 'PROCESS', description: 'any, none or a process: machines with (without) active work' } },
  { param: 'backoff', flag: { name: 'backoff', type: 'string', placeholder: 'PROCESS', description: 'any, none or a process: machines with (without) an unexpired backoff' } },
  { param: 'hb_older', flag: { name: 'hb-older', type: 'string', placeholder: 'DURATION', description: 'heartbeat older than this (10m, 90s)' } },
  { param: 'hb_newer', flag: { name: 'hb-newer', type: 'string', placeholder: 'DURATION', description: 'heartbeat newer than this' } },
  { param: 'stuck', flag: { name: 'stuck-in', type: 'string', placeholder: 'STATE', description: 'stuck in this derived state (silent, backing-off, starting-agent, …): in it for longer than its limit' } },
];

/** --stuck: stuck in any state (the webug list's stuck=any); --stuck-in names one state. */
const STUCK_FLAG: FlagSpec = { name: 'stuck', type: 'boolean', description: 'machines stuck in any state (in a derived state for longer than its limit)' };

export const SELECTION_FLAGS: readonly FlagSpec[] = [
  ...FILTERS.map((f) => own(f.flag)),
  own(STUCK_FLAG),
  own({ name: 'all', type: 'boolean', description: 'act on every machine the filters select, with no filter the whole fleet (actions only; list needs no --all)' }),
  own({ name: 'limit', type: 'int', default: 1000, min: 1, max: 100_000, description: 'at most this many machines from the filters' }),
];

export function hasFilters(flags: ParsedFlags): boolean {
  return flags.boolean(STUCK_FLAG.name) || FILTERS.some((f) => (f.flag.type === 'string' && f.flag.multiple ? flags.strings(f.flag.name).length > 0 : flags.string(f.flag.name) !== undefined));
}

/** The filter flags as webug's fleet list parameters. */
export function filterParams(flags: ParsedFlags): URLSearchParams {
  const params = new URLSearchParams();
  for (const f of FILTERS) {
    const values = f.flag.type === 'string' && f.flag.multiple ? flags.strings(f.flag.name) : [flags.string(f.flag.name)].filter((v) => v !== undefined);
    for (const v of values) params.append(f.param, v);
  }
  if (flags.boolean(STUCK_FLAG.name)) {
    if (params.has('stuck')) throw new UsageError('give --stuck or --stuck-in, not both');
    params.set('stuck', 'any');
  }
  return params;
}

/** A refused filter parameter (webug names the parameter) said as its flag. */
export function filterUsageError(message: string): UsageError {
  const name = /^\w+/.exec(message)?.[0];
  const filter = FILTERS.find((f) => f.param === name);
  return new UsageError(filter ? `--${filter.flag.name}${message.slice(name!.length)}` : message);
}

/** The machines the filters select, in machine id order, at most --limit (paged 500 at a time). */
export async function filteredMachines(backend: MachinesBackend, flags: ParsedFlags, signal: AbortSignal): Promise<FleetRow[]> {
  try {
    return await backend.select(filterParams(flags), flags.number('limit')!, signal);
  } catch (err) {
    if (err instanceof BadRequestError) throw filterUsageError(err.message);
    throw err;
  }
}

export interface Selected {
  readonly machineId: string;
  readonly providerId: string | null;
}

/**
 * The machines an action applies to. Named machines must each resolve to
 * exactly one; filters need --all when they are the only selection, so that a
 * forgotten argument never means "the whole fleet".
 */
export async function selectMachines(backend: MachinesBackend, flags: ParsedFlags, selectors: readonly string[], signal: AbortSignal): Promise<Selected[]> {
  if (selectors.length && hasFilters(flags)) throw new UsageError('name machines or give filters, not both');
  if (selectors.length) {
    const out = new Map<string, Selected>();
    for (const s of selectors) {
      const m = await backend.resolve(s, signal);
      out.set(m.machineId, { machineId: m.machineId, providerId: m.providerId });
    }
    return [...out.values()];
  }
  if (!flags.boolean('all')) throw new UsageError('name one or more machines (id, id prefix or provider id), or select them with filters and --all');
  return (await filteredMachines(backend, flags, signal)).map((r) => ({ machineId: r.machineId, providerId: r.providerId }));
}
