// The database CPU spent on one database: the on-CPU time of the PostgreSQL
// backends connected to it, read from /proc/<pid>/schedstat (nanoseconds).
// The benches' clusters run on this machine, so their backends are ours to
// read; background processes (WAL writer, autovacuum) are not counted. A
// bench snapshots at the start and the end of its timed part; a backend that
// connects in between counts from its start, one that exits in between is lost.
import { readFileSync } from 'node:fs';
import type pg from 'pg';

export type BackendCpuSnapshot = ReadonlyMap<number, number>;

function onCpuNs(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/** The on-CPU nanoseconds of every backend connected to `database`, by pid, read through `admin`. */
export async function backendCpu(admin: pg.Client, database: string): Promise<BackendCpuSnapshot> {
  const r = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  const snapshot = new Map<number, number>();
  for (const { pid } of r.rows) {
    const ns = onCpuNs(pid);
    if (ns !== undefined) snapshot.set(pid, ns);
  }
  return snapshot;
}

/** Milliseconds of backend CPU between two snapshots. */
export function backendCpuMs(start: BackendCpuSnapshot, end: BackendCpuSnapshot): number {
  let ns = 0;
  for (const [pid, at] of end) ns += at - (start.get(pid) ?? 0);
  return ns / 1e6;
}
