// sleep() beyond Node's timer range: chunked, so it neither fires at once nor warns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TIMER_MS } from './duration.ts';
import { sleep } from './sleep.ts';

describe('sleep', () => {
  it('does not fire early or warn for a wait longer than 2^31-1 ms', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      let done = false;
      const slept = sleep(MAX_TIMER_MS + 10_000, controller.signal).then(() => (done = true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(done, false, 'a wait beyond the timer range must not end after a few milliseconds');
      controller.abort();
      await slept;
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.map((w) => w.name), []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('waits the time asked for, and returns at once when aborted', async () => {
    const t0 = performance.now();
    await sleep(50);
    assert.ok(performance.now() - t0 >= 49);
    const controller = new AbortController();
    controller.abort();
    const t1 = performance.now();
    await sleep(60_000, controller.signal);
    assert.ok(performance.now() - t1 < 1000);
  });
});
