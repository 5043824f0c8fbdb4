import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { FailureStreak } from '../lib/failure-streak.ts';
import { NoSuitableHostError, SessionExpiredError } from './errors.ts';
import { DatabaseOutage, isDatabaseUnreachable } from './outage.ts';

/** A logger at debug that keeps its lines as [level, msg]. */
function recordingLogger(): { log: pino.Logger; lines: Array<[number, string]> } {
  const lines: Array<[number, string]> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        const { level, msg } = JSON.parse(l) as { level: number; msg: string };
        lines.push([level, msg]);
      }
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' });

describe('database outage', () => {
  it('tells an unreachable database from a database that answered with an error', () => {
    for (const err of [refused, shutdown, new Error('Connection terminated unexpectedly'), new Error('Query read timeout'), new NoSuitableHostError('none'), new DOMException('timed out', 'TimeoutError'), new Error('wrapped', { cause: refused }), new AggregateError([refused], 'both addresses')]) {
      assert.equal(isDatabaseUnreachable(err), true, String(err));
    }
    for (const err of [Object.assign(new Error('duplicate key'), { code: '23505' }), new SessionExpiredError(), new Error('boom'), undefined, 'ECONNREFUSED']) {
      assert.equal(isDatabaseUnreachable(err), false, String(err));
    }
  });

  it('logs one line when an outage starts and one when it ends, however many failures it had', async () => {
    const { log, lines } = recordingLogger();
    const outage = new DatabaseOutage(log);
    outage.failed(new Error('syntax error'));
    outage.succeeded();
    assert.equal(outage.active, false);
    for (let i = 0; i < 20; i++) outage.failed(i % 2 ? refused : shutdown);
    assert.equal(outage.active, true);
    assert.equal(outage.covers(new SessionExpiredError()), true, 'a session lost meanwhile is the outage\'s');
    outage.succeeded();
    outage.succeeded();
    assert.equal(outage.covers(new SessionExpiredError()), false);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines.map(([level]) => level), [50, 30]);
    assert.match(lines[0]![1], /database is unreachable/);
    assert.match(lines[1]![1], /answers again/);
  });

  it('a failure streak stays at debug for failures the outage covers, and loud for the others', async () => {
    const { log, lines } = recordingLogger();
    const outage = new DatabaseOutage(log);
    const streak = new FailureStreak(log, 'claim a machine', { quiet: (err) => outage.covers(err) });
    streak.failed(refused);
    streak.failed(refused);
    streak.succeeded();
    streak.failed(refused);
    streak.failed(new Error('a bug'));
    streak.failed(new Error('a bug'));
    streak.succeeded();
    await new Promise((r) => setImmediate(r));
    const loud = lines.filter(([level]) => level >= 30).map(([, msg]) => msg);
    assert.deepEqual(loud, ['could not claim a machine; retrying (further failures are logged at debug until it works again)', 'claim a machine: working again after failures']);
  });
  it('accounts for a session loss found out shortly after the outage ended, not long after', () => {
    const { log } = recordingLogger();
    const outage = new DatabaseOutage(log);
    assert.equal(outage.accountsForSessionLoss(10_000), false, 'no outage yet');
    outage.failed(refused);
    assert.equal(outage.accountsForSessionLoss(0), true, 'during the outage');
    outage.succeeded();
    assert.equal(outage.accountsForSessionLoss(10_000), true, 'just after it');
    assert.equal(outage.accountsForSessionLoss(0), false, 'after the grace');
  });
});
