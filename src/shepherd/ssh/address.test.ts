import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPortError } from '../../lib/index.ts';
import { formatSshEndpoint, parseSshAddress } from './index.ts';

test('parseSshAddress defaults to port 22 and reads explicit ports', () => {
  assert.deepEqual(parseSshAddress('10.0.0.1'), { host: '10.0.0.1', port: 22 });
  assert.deepEqual(parseSshAddress('machine.example:2222'), { host: 'machine.example', port: 2222 });
  assert.deepEqual(parseSshAddress('[2001:db8::1]:2200'), { host: '2001:db8::1', port: 2200 });
  assert.deepEqual(parseSshAddress('[::1]'), { host: '::1', port: 22 });
  assert.deepEqual(parseSshAddress('2001:db8::1'), { host: '2001:db8::1', port: 22 });
});

test('parseSshAddress rejects empty hosts and bad ports', () => {
  for (const bad of ['', ':22', 'host:', 'host:0', 'host:65536', 'host:2x', '[::1', '[::1]x', '300.1.1.1', 'bad host']) {
    assert.throws(() => parseSshAddress(bad), HostPortError, bad);
  }
});

test('formatSshEndpoint brackets IPv6 literals', () => {
  assert.equal(formatSshEndpoint({ host: '::1', port: 22 }), '[::1]:22');
  assert.equal(formatSshEndpoint({ host: '127.0.0.2', port: 40000 }), '127.0.0.2:40000');
});
