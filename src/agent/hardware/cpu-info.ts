// CPU packages from /proc/cpuinfo: one entry per `physical id`, because the
// report describes sockets, not the logical processors the kernel lists.
import type { CpuReport } from './node-report.ts';
import type { SysfsScope } from './sysfs-reader.ts';

type Processor = ReadonlyMap<string, string>;

/** Splits cpuinfo into one key/value map per logical processor. */
function parseProcessors(text: string): Processor[] {
  const processors: Processor[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    if (fields.has('processor')) processors.push(fields);
  }
  return processors;
}

function intField(p: Processor, key: string): number | undefined {
  const raw = p.get(key);
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number.parseInt(raw, 10);
}

function describePackage(members: readonly Processor[]): CpuReport {
  const first = members[0];
  const hardwareThreads = members.length;
  const coreIds = new Set(members.map((p) => p.get('core id')).filter((id) => id !== undefined));
  // `cpu cores` is what the kernel counted for the package; core ids are the
  // fallback, and a guest that shows neither gets one core per thread.
  const cores = (first && intField(first, 'cpu cores')) ?? (coreIds.size > 0 ? coreIds.size : hardwareThreads);
  const family = first && intField(first, 'cpu family');
  const isX86 = first?.has('vendor_id') === true && family !== undefined;
  return {
    architecture:
      isX86 && first
        ? {
            case: 'x8664',
            value: { family, model: intField(first, 'model') ?? 0, stepping: intField(first, 'stepping') ?? 0 },
          }
        : { case: undefined },
    cores,
    hardwareThreads,
    vendor: first?.get('vendor_id') ?? '',
    model: first?.get('model name') ?? '',
  };
}

/**
 * One CPU entry per package found in cpuinfo text. Processors without a
 * `physical id` (common in VMs and on non-x86) are counted as one package.
 */
export function parseCpuInfo(text: string): CpuReport[] {
  const packages = new Map<string, Processor[]>();
  for (const p of parseProcessors(text)) {
    const id = p.get('physical id') ?? '';
    const members = packages.get(id);
    if (members) members.push(p);
    else packages.set(id, [p]);
  }
  return [...packages.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([, members]) => describePackage(members));
}

/** Reads `proc/cpuinfo` below the scope's root. */
export async function readCpus(proc: SysfsScope): Promise<CpuReport[]> {
  const text = await proc.text('cpuinfo');
  if (text === undefined) return [];
  const cpus = parseCpuInfo(text);
  if (cpus.length === 0) proc.warn('cpuinfo', 'no processors listed');
  return cpus;
}
