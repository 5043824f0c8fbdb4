// Abortable sleep: resolves after ms, or resolves early (not rejects) when the
// signal aborts, so loops written as `while (!signal.aborted) { ...; await sleep() }`
// end without try/catch noise.
import { setTimeout as delay } from 'node:timers/promises';

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}
