import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Secret } from './secret.ts';

const VALUE = 'hunter2-very-secret';

describe('Secret', () => {
  it('reveal() gives the value back', () => {
    assert.equal(new Secret(VALUE).reveal(), VALUE);
  });

  it('prints [redacted] however it is turned into text', () => {
    const s = new Secret(VALUE);
    const texts = [
      String(s),
      `${s}`,
      `x${s as unknown as string}`,
      s.toString(),
      JSON.stringify(s),
      JSON.stringify({ nested: { password: s } }),
      inspect(s),
      inspect({ deep: [{ s }] }, { depth: 10, showHidden: true }),
      format('%s %o %O %j', s, s, s, s),
      String(new Error(`cannot log in with ${s as unknown as string}`)),
    ];
    for (const text of texts) {
      assert.ok(!text.includes(VALUE), text);
      assert.match(text, /\[redacted\]/);
    }
  });

  it('does not reach a pino log line, as a field or inside an error', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ level: 'trace' }, sink);
    const s = new Secret(VALUE);
    log.info({ password: s, bmc: { username: 'admin', password: s } }, 'logging in');
    log.error({ err: Object.assign(new Error('failed'), { password: s }) }, 'login failed');
    log.info('password %s', s);
    assert.equal(lines.length, 3);
    for (const line of lines) {
      assert.ok(!line.includes(VALUE), line);
      assert.match(line, /\[redacted\]/);
    }
  });

  it('a structured clone carries nothing', () => {
    assert.ok(!JSON.stringify(structuredClone(new Secret(VALUE))).includes(VALUE));
  });
});
