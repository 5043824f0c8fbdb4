import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BmdbConfigError } from './errors.ts';
import { parsePgUrl, redactPgUrl } from './pg-hosts.ts';
import { parseBmdbUrl } from './url.ts';

describe('multi-host --bmdb-url', () => {
  it('splits the host list, IPv6 in brackets, and keeps the other parameters', () => {
    const p = parsePgUrl('postgres://u:p%40ss@db1:5432,[::1]:6432,db3/bmaas?sslmode=disable&target_session_attrs=read-write&application_name=x');
    assert.deepEqual(p.hosts, [
      { host: 'db1', port: 5432 },
      { host: '::1', port: 6432 },
      { host: 'db3', port: undefined },
    ]);
    assert.equal(p.targetSessionAttrs, 'read-write');
    assert.deepEqual(p.connectionStrings, [
      'postgres://u:p%40ss@db1:5432/bmaas?sslmode=disable&application_name=x',
      'postgres://u:p%40ss@[::1]:6432/bmaas?sslmode=disable&application_name=x',
      'postgres://u:p%40ss@db3/bmaas?sslmode=disable&application_name=x',
    ]);
  });

  it('defaults to any, and leaves a single-host URL as written', () => {
    const p = parsePgUrl('postgresql://localhost/bmaas');
    assert.equal(p.targetSessionAttrs, 'any');
    assert.deepEqual(p.connectionStrings, ['postgresql://localhost/bmaas']);
  });

  it('refuses bad ports, empty list entries and unsupported session attributes, without the password', () => {
    for (const url of ['postgres://u:secret@db1:99999/x', 'postgres://u:secret@db1,,db2/x', 'postgres://u:secret@db1/x?target_session_attrs=standby', 'postgres://u:secret@[::1/x']) {
      assert.throws(() => parseBmdbUrl(url), (err: unknown) => err instanceof BmdbConfigError && !err.message.includes('secret'), url);
    }
  });

  it('redacts the password of any URL, multi-host or malformed', () => {
    assert.equal(redactPgUrl('postgres://u:se:cr@t@db1:5432,db2:5432/b?target_session_attrs=read-write'), 'postgres://u:***@db1:5432,db2:5432/b?target_session_attrs=read-write');
    assert.equal(redactPgUrl('postgres://db1,db2/b?user=u&password=secret&x=1'), 'postgres://db1,db2/b?user=u&password=***&x=1');
    assert.equal(redactPgUrl('postgres://u@db1/b'), 'postgres://u@db1/b');
    assert.equal(redactPgUrl('not a url secret'), '<unparseable url>');
  });
});
