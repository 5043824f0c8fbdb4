// Public surface of the shepherd's SSH layer.
export { DEFAULT_SSH_PORT, formatSshEndpoint, parseSshAddress } from './address.ts';
export type { SshEndpoint } from './address.ts';
export {
  HostKeyMismatchError,
  SshAuthError,
  SshConnectError,
  SshCredentialsError,
  SshError,
  SshExecError,
  SshOutputTooLargeError,
  SshTimeoutError,
  SshUploadError,
} from './errors.ts';
export type { SshTimeoutKind } from './errors.ts';
export { describeHostKey, hostKeyFingerprint } from './host-key.ts';
export type { HostKey, HostKeyPolicy } from './host-key.ts';
export { loadOrCreateSshKey, readPasswordFile } from './keys.ts';
export type { LoadedSshKey, LoadOrCreateSshKeyOptions } from './keys.ts';
export { withSshSession } from './session.ts';
export type { SshSessionOptions } from './session.ts';
export { DEFAULT_MAX_OUTPUT_BYTES } from './ssh-client.ts';
export type {
  SshAuth,
  SshClient,
  SshConnection,
  SshDialOptions,
  SshExecOptions,
  SshExecResult,
  SshTarget,
  SshUploadOptions,
} from './ssh-client.ts';
export { Ssh2Client } from './ssh2-client.ts';
export type { Ssh2ClientOptions } from './ssh2-client.ts';
