// The agent's identity: an Ed25519 key made at takeover, presented to the
// callback server as a self-signed client certificate.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCertificate, ed25519RawPublicKey, toPem } from '../lib/index.ts';

export function generateAgentKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** The raw 32-byte public key, what the BMDB's AgentStarted tag stores. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  return ed25519RawPublicKey(key);
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function privateKeyFromPem(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`agent key must be ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

/** A self-signed client certificate for the key, named after the machine. */
export async function clientCertificate(key: KeyObject, machineId: string): Promise<{ cert: string; key: string }> {
  const der = await createCertificate({ subject: { commonName: machineId || 'bmaas agent' }, publicKey: createPublicKey(key), signingKey: key, clientAuth: true });
  return { cert: toPem(der, 'CERTIFICATE'), key: privateKeyToPem(key) };
}
