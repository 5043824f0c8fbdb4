// Host key policies and the facts about a key a policy decides on.
import { createHash } from 'node:crypto';

/** A server's host key as shown during the handshake. */
export interface HostKey {
  /** Key type from the blob, e.g. "ssh-ed25519". */
  readonly algorithm: string;
  /** The SSH wire-format public key blob (what a known_hosts line base64-encodes). */
  readonly raw: Buffer;
  /** "SHA256:" + unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

/**
 * How to treat the server's host key.
 * - `insecure-ignore`: accept any key (for tests and first bring-up only).
 * - `verify`: `check` resolves to accept and throws to refuse; the thrown error
 *   becomes the `cause` of a HostKeyMismatchError. Trust-on-first-use lives in
 *   the caller (it owns the store), this layer only asks.
 */
export type HostKeyPolicy =
  | { readonly mode: 'insecure-ignore' }
  | { readonly mode: 'verify'; check(key: HostKey): Promise<void> };

/** OpenSSH-style SHA256 fingerprint of a wire-format public key blob. */
export function hostKeyFingerprint(raw: Buffer): string {
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

/** Describes a wire-format key blob: its type comes from the leading length-prefixed string. */
export function describeHostKey(raw: Buffer): HostKey {
  let algorithm = 'unknown';
  if (raw.length >= 4) {
    const length = raw.readUInt32BE(0);
    if (length > 0 && 4 + length <= raw.length) algorithm = raw.subarray(4, 4 + length).toString('latin1');
  }
  return { algorithm, raw: Buffer.from(raw), fingerprint: hostKeyFingerprint(raw) };
}
