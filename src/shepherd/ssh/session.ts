// One SSH exchange under one deadline, the way the initializer uses it.
import { SshTimeoutError } from './errors.ts';
import type { SshClient, SshConnection, SshDialOptions, SshTarget } from './ssh-client.ts';

export interface SshSessionOptions extends SshDialOptions {
  /** Bounds the whole exchange, dial included; default in the shepherd is 60 s. */
  readonly execTimeoutMs: number;
}

/**
 * Dials `target`, runs `exchange` with the connection and a signal, and closes
 * the connection on every path. When `execTimeoutMs` passes the signal aborts
 * with an SshTimeoutError (kind 'exec'), the connection is closed under the
 * running operations, and that error is what this rejects with, whatever
 * `exchange` itself threw. When the caller's signal aborts, this rejects with
 * the caller's reason. A dial that outlives `connectTimeoutMs` rejects with an
 * SshTimeoutError of kind 'connect'.
 */
export async function withSshSession<T>(
  client: SshClient,
  target: SshTarget,
  options: SshSessionOptions,
  exchange: (connection: SshConnection, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { execTimeoutMs, signal: outer, ...dialOptions } = options;
  outer?.throwIfAborted();
  const controller = new AbortController();
  const signal = controller.signal;
  let connection: SshConnection | undefined;

  const timer = setTimeout(
    () => controller.abort(new SshTimeoutError('exec', execTimeoutMs, target.address)),
    execTimeoutMs,
  );
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  // Closing the connection ends whatever is still running. It waits a turn so
  // the operations' own abort handlers (which send KILL to remote commands)
  // get their messages out first; listeners run in registration order.
  const onAbort = (): void => {
    setImmediate(() => {
      connection?.close().catch(() => {});
    });
  };
  signal.addEventListener('abort', onAbort, { once: true });

  try {
    connection = await client.dial(target, { ...dialOptions, signal });
    const result = await exchange(connection, signal);
    // A result that raced the deadline may be partial: the deadline wins.
    signal.throwIfAborted();
    return result;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    signal.removeEventListener('abort', onAbort);
    await connection?.close().catch(() => {});
  }
}
