// Polling helper for tests that wait on a loop running in the background.
import { setTimeout as delay } from 'node:timers/promises';

/** Polls `check` until it returns true, or throws after `timeoutMs` with `what` in the message. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}
