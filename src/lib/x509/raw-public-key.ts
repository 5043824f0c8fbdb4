// The 32 bytes of an Ed25519 public key, as the BMDB's AgentStarted tag stores
// them and the callback server compares them.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { UnsupportedKeyError } from './certificate.ts';

/**
 * The raw public key of an Ed25519 key (public or private).
 * @throws UnsupportedKeyError for any other key type.
 */
export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  if (pub.asymmetricKeyType !== 'ed25519') throw new UnsupportedKeyError(`expected an ed25519 key, got ${pub.asymmetricKeyType}`);
  return new Uint8Array(Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url'));
}
