// Errors of the SSH layer. Each is a small class with `cause`, so callers can
// branch with `instanceof` (retry on a timeout, alert on a changed host key)
// while logs still show the underlying ssh2 or socket error.

/** Base class of every error thrown by this folder. */
export class SshError extends Error {
  override name = 'SshError';
}

/** The TCP connection or the SSH handshake failed (refused, reset, protocol error). */
export class SshConnectError extends SshError {
  override name = 'SshConnectError';
}

/** The server rejected every authentication method we offered. */
export class SshAuthError extends SshError {
  override name = 'SshAuthError';
}

/**
 * The host key policy refused the server's key. `fingerprint` is the key we
 * were shown (SHA256:..., as OpenSSH prints it); `cause` is what the policy threw.
 */
export class HostKeyMismatchError extends SshError {
  override name = 'HostKeyMismatchError';
  readonly fingerprint: string;
  readonly address: string;
  constructor(address: string, fingerprint: string, options?: ErrorOptions) {
    super(`host key of ${address} changed or was refused: got ${fingerprint}`, options);
    this.fingerprint = fingerprint;
    this.address = address;
  }
}

/** Which bound fired: establishing the session, or the whole exchange. */
export type SshTimeoutKind = 'connect' | 'exec';

/** The connect timeout (TCP + handshake + auth) or the exec timeout (whole exchange) passed. */
export class SshTimeoutError extends SshError {
  override name = 'SshTimeoutError';
  readonly kind: SshTimeoutKind;
  readonly timeoutMs: number;
  constructor(kind: SshTimeoutKind, timeoutMs: number, address: string, options?: ErrorOptions) {
    super(`ssh ${kind} timeout of ${timeoutMs} ms passed for ${address}`, options);
    this.kind = kind;
    this.timeoutMs = timeoutMs;
  }
}

/** A remote command wrote more than `maxOutputBytes` to stdout or to stderr. */
export class SshOutputTooLargeError extends SshError {
  override name = 'SshOutputTooLargeError';
  readonly stream: 'stdout' | 'stderr';
  readonly maxOutputBytes: number;
  constructor(command: string, stream: 'stdout' | 'stderr', maxOutputBytes: number) {
    super(`remote command ${JSON.stringify(command)} wrote more than ${maxOutputBytes} bytes to ${stream}`);
    this.stream = stream;
    this.maxOutputBytes = maxOutputBytes;
  }
}

/** Running a command failed at the SSH level (channel refused, connection lost before exit). */
export class SshExecError extends SshError {
  override name = 'SshExecError';
}

/** Uploading a file over SFTP failed. */
export class SshUploadError extends SshError {
  override name = 'SshUploadError';
}

/** A private key or password file could not be read, parsed or created. */
export class SshCredentialsError extends SshError {
  override name = 'SshCredentialsError';
}
