import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs, nextBackoffSeconds, type Backoff } from './backoff.ts';

// Runs the policy n times from `start` and returns the stored intervals.
function sequence(b: Backoff | undefined, start: number | null, n: number): number[] {
  const out: number[] = [];
  let prev = start;
  for (let i = 0; i < n; i++) {
    prev = nextBackoffSeconds(b, prev);
    out.push(prev);
  }
  return out;
}

describe('backoff table (the original test cases)', () => {
  it('{1m, x1.1, max 2m} from nothing grows by 10% rounded up and caps at 2m', () => {
    assert.deepEqual(sequence({ initialMs: 60_000, exponent: 1.1, maximumMs: 120_000 }, null, 9), [60, 66, 73, 81, 90, 99, 109, 120, 120]);
  });
  it('{1m, x2, max 2m} continuing from 2s doubles and caps', () => {
    assert.deepEqual(sequence({ initialMs: 60_000, exponent: 2, maximumMs: 120_000 }, 2, 7), [4, 8, 16, 32, 64, 120, 120]);
  });
  it('{1m} (simple backoff) gives 60 whatever the previous value', () => {
    for (const prev of [null, 1, 30, 600]) assert.equal(nextBackoffSeconds({ initialMs: 60_000 }, prev), 60);
  });
  it('no backoff given continues the previous interval (1m stays 1m)', () => {
    assert.equal(nextBackoffSeconds(undefined, 60), 60);
  });
  it('no backoff and nothing previous gives 1s', () => {
    assert.equal(nextBackoffSeconds(undefined, null), 1);
  });
  it('{exponent 0.2} normalises to a simple 1s backoff', () => {
    assert.deepEqual(sequence({ initialMs: 0, exponent: 0.2 }, null, 3), [1, 1, 1]);
  });
  it('{1ms, max 1ms} rounds up to 1s', () => {
    assert.deepEqual(sequence({ initialMs: 1, maximumMs: 1 }, null, 2), [1, 1]);
  });
  it('maximum below initial becomes initial', () => {
    assert.deepEqual(sequence({ initialMs: 10_000, exponent: 2, maximumMs: 1000 }, null, 3), [10, 10, 10]);
  });
});

describe('backoff jitter', () => {
  it('delays by at most the jitter fraction and never less than the interval', () => {
    assert.equal(backoffDelayMs({ initialMs: 1000, jitter: 0.1 }, 10, () => 0), 10_000);
    assert.equal(backoffDelayMs({ initialMs: 1000, jitter: 0.1 }, 10, () => 1), 11_000);
    assert.equal(backoffDelayMs(undefined, 10, () => 1), 10_000);
  });
});
