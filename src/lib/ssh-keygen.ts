// Ed25519 key pairs in OpenSSH format. ssh2's generator has a bug: about one
// key in 400 comes out with a 31-byte public key (a leading zero byte lost),
// which ssh2 itself then refuses to parse ("Malformed OpenSSH private key").
// We generate until the pair parses, which in practice means once or twice.
import ssh2 from 'ssh2';

// ssh2 is CommonJS; Node exposes only its default export to ES modules.
const { utils } = ssh2;

export interface OpenSshKeyPair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----..." */
  readonly private: string;
  /** "ssh-ed25519 AAAA... comment" */
  readonly public: string;
}

const MAX_ATTEMPTS = 20;

/** Whether ssh2 accepts this OpenSSH private key (one key, Ed25519). */
export function isUsableEd25519Key(privateKey: string): boolean {
  const parsed = utils.parseKey(privateKey);
  return !(parsed instanceof Error) && !Array.isArray(parsed) && parsed.type === 'ssh-ed25519';
}

export function generateEd25519KeyPair(comment?: string): OpenSshKeyPair {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const pair = comment === undefined ? utils.generateKeyPairSync('ed25519') : utils.generateKeyPairSync('ed25519', { comment });
    if (isUsableEd25519Key(pair.private)) return pair;
  }
  throw new Error(`could not generate a usable Ed25519 key in ${MAX_ATTEMPTS} attempts`);
}
