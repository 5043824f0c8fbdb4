import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { LOG_SERIALIZERS, serializeError } from './log-serializers.ts';

describe('log serializers', () => {
  it('leave out a database client hung on an error, keeping message, code and stack', () => {
    const client = { connectionParameters: { user: 'bmaas_shepherd', host: 'db1' }, parsedStatements: { s1: 'SELECT 1' } };
    const inner = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', client });
    const err = Object.assign(new Error('terminating connection'), { code: '57P01', client, original: inner });
    const out = serializeError(err) as Record<string, unknown> & { original: Record<string, unknown> };
    assert.match(String(out.message), /^terminating connection/);
    assert.equal(out.code, '57P01');
    assert.match(String(out.stack), /terminating connection/);
    assert.equal('client' in out, false);
    assert.equal(out.original.code, 'ECONNREFUSED');
    assert.equal('client' in out.original, false);
    assert.equal(serializeError('plain'), 'plain');
  });

  it('are what a logger writes', () => {
    let line = '';
    const sink = new Writable({ write(chunk: Buffer, _e, done) { line += chunk.toString(); done(); } });
    const log = pino({ serializers: LOG_SERIALIZERS }, sink);
    log.error({ err: Object.assign(new Error('boom'), { client: { secret: 'x' } }) }, 'failed');
    assert.doesNotMatch(line, /secret/);
    assert.match(line, /boom/);
  });
});
