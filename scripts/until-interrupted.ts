// Ctrl-C handling shared by the dev scripts, which run until interrupted.
import { once } from 'node:events';

/** Aborted on the first SIGINT or SIGTERM, with the signal named in the reason. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new Error(`received ${sig}`)));
  return controller.signal;
}

/**
 * Resolves once `signal` aborts. A pending promise alone does not keep Node
 * running, so a timer holds the event loop open until then.
 */
export async function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    await once(signal, 'abort');
  } finally {
    clearInterval(keepAlive);
  }
}
