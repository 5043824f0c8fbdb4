// One word for where a machine is in its life, for the list's status column.
// Derived from the same facts the detail page shows; the explain view is the
// authority on why a process will or will not pick the machine up.

export type Tone = 'ok' | 'warn' | 'bad' | 'busy' | 'idle';

export interface MachineStatus {
  readonly label: string;
  readonly tone: Tone;
}

export interface StatusFacts {
  readonly provided: boolean;
  readonly agentStartedAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly activeWork: readonly string[];
  readonly activeBackoffs: readonly string[];
  readonly silenceMs: number;
  readonly now: number;
}

export function machineStatus(f: StatusFacts): MachineStatus {
  if (f.activeWork.length > 0) return { label: `working: ${f.activeWork.join(', ')}`, tone: 'busy' };
  if (!f.provided) return { label: 'not provided', tone: 'idle' };
  if (f.heartbeatAt) {
    if (f.now - f.heartbeatAt.getTime() <= f.silenceMs) return { label: 'heartbeating', tone: f.activeBackoffs.length ? 'warn' : 'ok' };
    return { label: 'silent', tone: 'bad' };
  }
  if (f.agentStartedAt) return { label: 'agent started, no heartbeat', tone: 'warn' };
  if (f.activeBackoffs.length > 0) return { label: 'backing off', tone: 'warn' };
  return { label: 'awaiting agent start', tone: 'idle' };
}
