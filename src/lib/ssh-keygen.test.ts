import assert from 'node:assert/strict';
import { it } from 'node:test';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from './ssh-keygen.ts';

it('every generated Ed25519 key parses (ssh2 alone gets about 1 in 400 wrong)', () => {
  for (let i = 0; i < 2000; i++) {
    const pair = generateEd25519KeyPair('test');
    const parsed = ssh2.utils.parseKey(pair.private);
    assert.ok(!(parsed instanceof Error), `key ${i} does not parse`);
    assert.match(pair.public, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/=]+ test$/, 'a 32-byte public key');
  }
});
