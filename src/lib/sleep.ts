// Abortable sleep: resolves after ms, or resolves early (not rejects) when the
// signal aborts, so loops written as `while (!signal.aborted) { ...; await sleep() }`
// end without try/catch noise. Waits longer than a Node timer can arm
// (MAX_TIMER_MS, about 24.8 days) are slept in chunks, so they neither fire
// early nor print a TimeoutOverflowWarning.
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_TIMER_MS } from './duration.ts';

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const end = performance.now() + ms;
  let left = ms;
  do {
    if (signal?.aborted) return;
    try {
      await delay(Math.min(Math.max(Math.ceil(left), 0), MAX_TIMER_MS), undefined, { signal });
    } catch (err) {
      if (!signal?.aborted) throw err;
    }
    left = end - performance.now();
  } while (left >= 1);
}
