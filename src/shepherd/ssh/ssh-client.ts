// The seam between the shepherd and SSH: small enough that a fake can stand
// beside the ssh2 implementation, the way the Go original has SSHClient.
import type { HostKeyPolicy } from './host-key.ts';

/** A machine to reach: "host", "host:port" or "[v6]:port"; port 22 unless given. */
export interface SshTarget {
  readonly address: string;
}

export type SshAuth = { readonly privateKey: Buffer } | { readonly password: string };

export interface SshDialOptions {
  readonly username: string;
  readonly auth: SshAuth;
  /** Bounds TCP connect, handshake, host key check and authentication together. */
  readonly connectTimeoutMs: number;
  readonly hostKey: HostKeyPolicy;
  /** Aborting cancels the dial and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface SshUploadOptions {
  /** Mode set by an explicit chmod after the write; default 0o755. */
  readonly mode?: number;
  readonly signal?: AbortSignal;
}

export interface SshExecOptions {
  /** Written to the command's stdin, then EOF. Without it stdin is closed at once. */
  readonly stdin?: Uint8Array;
  /** Bound on stdout and on stderr, each; default 1 MiB. */
  readonly maxOutputBytes?: number;
  /**
   * Aborting asks the server to KILL the command (OpenSSH does so only for
   * non-root logins), closes the channel and rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

export interface SshExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Exit status; null when the command died of a signal or the server sent none. */
  readonly exitCode: number | null;
  /** Signal name as Node spells it (e.g. "SIGKILL") when the command died of one. */
  readonly signal?: string;
}

export interface SshConnection extends AsyncDisposable {
  /** Copies a local file to `remotePath` over SFTP, replacing it, then chmods it. */
  upload(localPath: string, remotePath: string, options?: SshUploadOptions): Promise<void>;
  /**
   * Runs `command` through the remote user's shell. A non-zero exit is a result,
   * not an error; SshOutputTooLargeError and SshExecError are errors.
   */
  exec(command: string, options?: SshExecOptions): Promise<SshExecResult>;
  /** Ends the connection; idempotent. Operations still running reject. */
  close(): Promise<void>;
}

export interface SshClient {
  /**
   * Connects and authenticates. Rejects with SshConnectError, SshAuthError,
   * HostKeyMismatchError, SshTimeoutError (kind 'connect'), or the signal's reason.
   */
  dial(target: SshTarget, options: SshDialOptions): Promise<SshConnection>;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
