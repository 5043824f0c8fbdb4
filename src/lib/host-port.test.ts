import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHostPort, HostPortError, isLoopbackHost, parseHostPort, parseListenAddress } from './host-port.ts';

describe('parseHostPort', () => {
  it('reads IPv4, IPv6 in brackets and host names', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseHostPort('[fe80::1%eth0]:22'), { host: 'fe80::1%eth0', port: 22 });
    assert.deepEqual(parseHostPort('db.example.com:5432'), { host: 'db.example.com', port: 5432 });
    assert.deepEqual(parseHostPort(' localhost:1 '), { host: 'localhost', port: 1 });
  });

  it('gives a bare host the default port, and only when there is one', () => {
    assert.deepEqual(parseHostPort('example.com', { defaultPort: 22 }), { host: 'example.com', port: 22 });
    assert.deepEqual(parseHostPort('10.0.0.1', { defaultPort: 22 }), { host: '10.0.0.1', port: 22 });
    assert.deepEqual(parseHostPort('::1', { defaultPort: 22 }), { host: '::1', port: 22 });
    assert.deepEqual(parseHostPort('[2001:db8::5]', { defaultPort: 22 }), { host: '2001:db8::5', port: 22 });
    assert.deepEqual(parseHostPort('example.com:2222', { defaultPort: 22 }), { host: 'example.com', port: 2222 });
    assert.throws(() => parseHostPort('example.com'), /has no port/);
    assert.throws(() => parseHostPort('8081'), HostPortError);
    assert.throws(() => parseHostPort('8081', { defaultPort: 22 }), /not an IPv4 address/);
  });

  it('`:port` is every interface (host undefined), for a listener only', () => {
    assert.deepEqual(parseListenAddress(':8080'), { host: undefined, port: 8080 });
    assert.deepEqual(parseListenAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListenAddress('[::]:0'), { host: '::', port: 0 });
    assert.throws(() => parseHostPort(':8080'), /has no host/);
  });

  it('checks the port range: 0 only for a listener, never above 65535', () => {
    assert.equal(parseListenAddress('127.0.0.1:0').port, 0);
    assert.equal(parseListenAddress('127.0.0.1:65535').port, 65535);
    assert.throws(() => parseHostPort('127.0.0.1:0'), /outside 1\.\.65535/);
    assert.throws(() => parseListenAddress('127.0.0.1:65536'), /outside 0\.\.65535/);
    assert.throws(() => parseListenAddress('127.0.0.1:123456'), /not a number/);
    for (const port of ['', '-1', '+80', '8o', '8 0', '1e3', '0x50']) {
      assert.throws(() => parseListenAddress(`127.0.0.1:${port}`), HostPortError, port);
    }
  });

  it('refuses malformed hosts with HostPortError', () => {
    for (const bad of ['', '   ', '::1:8080', '[::1:8080', '[::1]8080', '[127.0.0.1]:80', '[zz::1]:80', '300.1.1.1:80', '1.2.3:80',
      'a b:80', 'http://x:80', 'user@host:80', 'host/x:80', '-host:80', 'a..b:80', `${'a'.repeat(64)}:80`, 'x:80:90']) {
      assert.throws(() => parseListenAddress(bad), HostPortError, JSON.stringify(bad));
    }
  });
});

it('isLoopbackHost: localhost, 127/8 and ::1, nothing else', () => {
  for (const h of ['localhost', 'LOCALHOST', 'localhost.', 'a.localhost', '127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of [undefined, '0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example', '::2']) assert.equal(isLoopbackHost(h), false, String(h));
});

it('formatHostPort writes what parseHostPort reads', () => {
  for (const text of ['127.0.0.1:80', '[::1]:80', 'db.example:5432', ':8080']) assert.equal(formatHostPort(parseListenAddress(text)), text);
});
