// Trust on first use for SSH host keys, with the BMDB as the store: the first
// key a machine shows is recorded in its SshHostKey tag, and any other key is
// refused from then on.
import type { Logger } from 'pino';
import type { Session } from '../bmdb/index.ts';
import type { HostKey, HostKeyPolicy } from './ssh/index.ts';

/** The machine showed a host key other than the one recorded at first use. */
export class HostKeyChangedError extends Error {
  override name = 'HostKeyChangedError';
  readonly recordedFingerprint: string;
  readonly shownFingerprint: string;
  constructor(machineId: string, recordedFingerprint: string, shownFingerprint: string) {
    super(
      `the ssh host key of machine ${machineId} changed: recorded ${recordedFingerprint} at first use, now shown ${shownFingerprint} ` +
        '(delete its machine_ssh_host_key row to accept the new key)',
    );
    this.recordedFingerprint = recordedFingerprint;
    this.shownFingerprint = shownFingerprint;
  }
}

/**
 * A verify policy for one machine: records the key on first use (in its own
 * transaction, so the key is pinned even if the takeover then fails) and
 * refuses a key that differs from the recorded one.
 */
export function trustOnFirstUse(session: Session, machineId: string, options: { signal?: AbortSignal; log?: Logger } = {}): HostKeyPolicy {
  return {
    mode: 'verify',
    async check(key: HostKey): Promise<void> {
      const { recorded, first } = await session.transact(
        async (q) => {
          const existing = await q.getSshHostKey({ machineId });
          if (existing) return { recorded: existing, first: false };
          return { recorded: await q.recordSshHostKeyIfAbsent({ machineId, key: key.raw, fingerprint: key.fingerprint }), first: true };
        },
        { signal: options.signal },
      );
      if (!Buffer.from(recorded.key).equals(key.raw)) {
        throw new HostKeyChangedError(machineId, recorded.fingerprint, key.fingerprint);
      }
      if (first) options.log?.info({ fingerprint: key.fingerprint, algorithm: key.algorithm }, 'recorded ssh host key on first use');
    },
  };
}
