// An authenticated ssh2 connection: SFTP upload and exec with bounded output.
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import type { Logger } from 'pino';
import { SshExecError, SshOutputTooLargeError, SshUploadError } from './errors.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from './ssh-client.ts';
import type { SshConnection, SshExecOptions, SshExecResult, SshUploadOptions } from './ssh-client.ts';

// How long close() waits for the server to acknowledge before dropping the socket.
const CLOSE_GRACE_MS = 1000;

export class Ssh2Connection implements SshConnection {
  readonly #client: Client;
  readonly #address: string;
  readonly #log: Logger | undefined;
  readonly #closed: Promise<void>;
  #isClosed = false;
  #closing = false;

  /** Takes over a client that has just emitted 'ready'. */
  constructor(client: Client, address: string, log: Logger | undefined) {
    this.#client = client;
    this.#address = address;
    this.#log = log;
    this.#closed = new Promise((resolve) => {
      client.once('close', () => {
        this.#isClosed = true;
        resolve();
      });
    });
    // Errors after 'ready' surface through the operation that was running;
    // the listener keeps an unhandled 'error' event from crashing the process.
    client.on('error', (err) => this.#log?.debug({ err, address }, 'ssh connection error'));
  }

  async upload(localPath: string, remotePath: string, options: SshUploadOptions = {}): Promise<void> {
    const { mode = 0o755, signal } = options;
    signal?.throwIfAborted();
    this.#assertOpen();
    const where = `${this.#address}:${remotePath}`;
    let sftp: SFTPWrapper | undefined;
    const onAbort = (): void => sftp?.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        this.#client.sftp((err, s) => (err ? reject(err) : resolve(s)));
      });
      signal?.throwIfAborted();
      const channel = sftp;
      // fastPut pipelines writes, which matters for a large agent over a slow link.
      await new Promise<void>((resolve, reject) => {
        channel.fastPut(localPath, remotePath, { mode }, (err) => (err ? reject(err) : resolve()));
      });
      // fastPut's mode applies when it creates the file; chmod again so an
      // existing file at the path ends up with the requested mode too.
      await new Promise<void>((resolve, reject) => {
        channel.chmod(remotePath, mode, (err) => (err ? reject(err) : resolve()));
      });
      this.#log?.debug({ localPath, address: this.#address, remotePath, mode }, 'uploaded file');
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new SshUploadError(`could not upload ${localPath} to ${where}`, { cause: err });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      sftp?.end();
    }
  }

  exec(command: string, options: SshExecOptions = {}): Promise<SshExecResult> {
    const { stdin, maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES, signal } = options;
    signal?.throwIfAborted();
    this.#assertOpen();
    return new Promise<SshExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const stdout = new BoundedBuffer(maxOutputBytes);
      const stderr = new BoundedBuffer(maxOutputBytes);
      let exitCode: number | null = null;
      let exitSignal: string | undefined;

      const cleanup = (): void => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        this.#client.removeListener('close', onConnectionClose);
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        cleanup();
        if (channel) stopChannel(channel);
        reject(err);
      };
      const onAbort = (): void => fail(signal?.reason);
      const onConnectionClose = (): void =>
        fail(new SshExecError(`connection to ${this.#address} closed before ${JSON.stringify(command)} finished`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#client.once('close', onConnectionClose);

      const onStarted = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) {
          fail(new SshExecError(`could not start ${JSON.stringify(command)} on ${this.#address}`, { cause: err }));
          return;
        }
        if (settled) {
          stopChannel(ch);
          return;
        }
        channel = ch;
        ch.on('data', (chunk: Buffer) => {
          if (!stdout.push(chunk)) fail(new SshOutputTooLargeError(command, 'stdout', maxOutputBytes));
        });
        ch.stderr.on('data', (chunk: Buffer) => {
          if (!stderr.push(chunk)) fail(new SshOutputTooLargeError(command, 'stderr', maxOutputBytes));
        });
        ch.on('exit', (code: number | null, sig?: string) => {
          exitCode = typeof code === 'number' ? code : null;
          if (typeof sig === 'string') exitSignal = sig;
        });
        ch.on('error', (e: Error) =>
          fail(new SshExecError(`channel of ${JSON.stringify(command)} on ${this.#address} failed`, { cause: e })),
        );
        ch.on('close', () => {
          if (settled) return;
          cleanup();
          const result: SshExecResult = { stdout: stdout.toBuffer(), stderr: stderr.toBuffer(), exitCode };
          resolve(exitSignal === undefined ? result : { ...result, signal: exitSignal });
        });
        // Always send EOF so a command that reads stdin does not wait forever.
        ch.end(stdin === undefined ? undefined : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength));
      };
      try {
        this.#client.exec(command, onStarted);
      } catch (err) {
        fail(new SshExecError(`could not start ${JSON.stringify(command)} on ${this.#address}`, { cause: err }));
      }
    });
  }

  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#client.end();
      const timer = setTimeout(() => this.#client.destroy(), CLOSE_GRACE_MS);
      timer.unref();
      await this.#closed;
      clearTimeout(timer);
    }
    await this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closing || this.#isClosed) throw new SshExecError(`connection to ${this.#address} is closed`);
  }
}

/** The parts of ssh2's channel internals that sending a signal needs. */
interface ChannelInternals {
  readonly type?: string;
  readonly outgoing?: { readonly id?: number; readonly state?: string };
  readonly _client?: { readonly _protocol?: { signal(channelId: number, signalName: string): void } };
}

/**
 * Asks the server to KILL the remote command, then closes the channel. ssh2's
 * public `signal()` refuses once we have sent EOF on stdin, which we always do,
 * so this sends the request through the internals it would use. OpenSSH only
 * honours it for non-root logins (it has no privilege separation for root); a
 * command that then neither writes nor exits outlives the channel.
 */
function stopChannel(channel: ClientChannel): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  const state = internals.outgoing?.state;
  if (internals.type === 'session' && (state === 'open' || state === 'eof') && typeof id === 'number') {
    try {
      internals._client?._protocol?.signal(id, 'KILL');
    } catch {
      // Closing below is enough when the server does not take signals.
    }
  }
  channel.close();
}

/** Collects chunks up to a byte limit; push reports whether the limit still holds. */
class BoundedBuffer {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #length = 0;
  constructor(limit: number) {
    this.#limit = limit;
  }
  push(chunk: Buffer): boolean {
    this.#length += chunk.length;
    if (this.#length > this.#limit) return false;
    this.#chunks.push(chunk);
    return true;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks, this.#length);
  }
}
