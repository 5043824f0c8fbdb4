// Shared idle polling of a runner's workers (docs/architecture.md#control-loop-runner):
// while the fleet has nothing to do, one worker (the poller) keeps polling and
// the others wait here until it finds work, so an idle loop costs one
// candidate query per poll interval whatever its parallelism.
export class IdleGate {
  #poller: number | undefined;
  readonly #waiters = new Set<() => void>();

  /**
   * Called by a worker whose claim found nothing. True: it is the poller and
   * should sleep and poll again. False: another worker polls; wait().
   */
  becomePoller(worker: number): boolean {
    this.#poller ??= worker;
    return this.#poller === worker;
  }

  /** Called after a claim that found something (or failed otherwise): ends this worker's polling turn and wakes the waiters. */
  active(worker: number): void {
    if (this.#poller !== worker) return;
    this.#poller = undefined;
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves when the poller found work or `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
