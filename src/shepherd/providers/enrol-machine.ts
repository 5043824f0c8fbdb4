// What "creating" a machine means in the BMDB for providers that have no
// creation call of their own: a new machine row and its Provided tag, in one
// transaction of the provisioner's session.
import type { Session } from '../../bmdb/index.ts';
import type { ProviderMachine, ProviderType } from '../provider.ts';
import { parseSshAddress } from '../ssh/index.ts';

export async function enrolMachine(session: Session, provider: ProviderType, machine: ProviderMachine, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const { host } = parseSshAddress(machine.address);
  await session.transact(async (q) => {
    const { machineId } = await q.newMachine();
    await q.addProvided({
      machineId,
      provider,
      providerId: machine.id,
      providerIpAddress: host,
      providerLocation: machine.location ?? null,
      providerStatus: 'Running',
      providerRebootable: machine.rebootable ?? true,
    });
  }, opts);
}
