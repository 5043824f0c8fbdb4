import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeTakeoverResponse } from '../proto/index.ts';
import { checkTakeoverResponse, shellQuote, TakeoverFailedError } from './takeover.ts';

const init = { machineId: 'm-1', bmaasEndpoint: 'bmsrv:443', caCertificate: new Uint8Array([1, 2]) };
const success = (initMessage: object, key: Uint8Array, warning: string[] = []) =>
  encodeTakeoverResponse({ result: { case: 'success', value: { initMessage, key, warning } } });

describe('takeover response checks', () => {
  it('accepts an exact echo with a 32-byte key and passes warnings on', () => {
    const key = randomBytes(32);
    const r = checkTakeoverResponse(init, success(init, key, ['no TPM']), 0);
    assert.deepEqual(Buffer.from(r.key), key);
    assert.deepEqual(r.warnings, ['no TPM']);
  });
  const failures: Array<[string, Uint8Array, number | null, RegExp]> = [
    ['an error result', encodeTakeoverResponse({ result: { case: 'error', value: { message: 'boom' } } }), 1, /takeover error: boom/],
    ['a different machine id in the echo', success({ ...init, machineId: 'm-2' }, randomBytes(32)), 0, /echoed a different TakeoverInit/],
    ['a different CA certificate in the echo', success({ ...init, caCertificate: new Uint8Array() }, randomBytes(32)), 0, /echoed a different/],
    ['a 33-byte key', success(init, randomBytes(33)), 0, /must be 32 bytes/],
    ['no output', new Uint8Array(), 127, /exited with code 127 without a response/],
    ['garbage output', Buffer.from('Segmentation fault\n'), 0, /malformed TakeoverResponse/],
    ['success with a non-zero exit', success(init, randomBytes(32)), 3, /exited with code 3/],
  ];
  for (const [name, stdout, code, pattern] of failures) {
    it(`refuses ${name}`, () => {
      assert.throws(() => checkTakeoverResponse(init, stdout, code, 'oops'), (err: unknown) => err instanceof TakeoverFailedError && pattern.test(err.message));
    });
  }
  it('quotes paths for the remote shell', () => {
    assert.equal(shellQuote("/root/my agent's"), `'/root/my agent'\\''s'`);
  });
});
