// Keeps machines the provider cannot reboot (a device-list entry without a
// BMC) away from the recoverer: they are never claimed, so no work, no failed
// reboot and no backoff is recorded for them. The candidate query starts at a
// random machine, so a batch filtered down to nothing is followed by another
// one elsewhere in the fleet and rebootable machines are not starved.
// TODO(lead): a BMDB fact for "cannot be rebooted" would let the candidate
// query skip them, and webug's explain say why they are never recovered.
import type { ControlLoop } from '../controlloop/index.ts';
import type { RecovererProvider } from './provider.ts';

/** How many more candidates are asked for than the runner wants, to make up for the filtered ones. */
const OVERFETCH = 16;

export function onlyRebootable(loop: ControlLoop, provider: RecovererProvider): ControlLoop {
  const canReboot = provider.canReboot?.bind(provider);
  if (canReboot === undefined) return loop;
  return {
    name: loop.name,
    process: loop.process,
    processor: loop.processor,
    defaultBackoff: loop.defaultBackoff,
    async getMachines(q, limit) {
      const machines = await loop.getMachines(q, limit * OVERFETCH);
      return machines.filter((m) => canReboot(m.providerId)).slice(0, limit);
    },
    processMachine: (task) => loop.processMachine(task),
  };
}
