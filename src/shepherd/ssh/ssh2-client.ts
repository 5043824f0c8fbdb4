// The ssh2 implementation of SshClient: dial with one connect deadline and a
// host key policy that may consult a store asynchronously.
import ssh2 from 'ssh2';
import type { ConnectConfig } from 'ssh2';
import type { Logger } from 'pino';
import { formatSshEndpoint, parseSshAddress } from './address.ts';
import { HostKeyMismatchError, SshAuthError, SshConnectError, SshTimeoutError } from './errors.ts';
import { describeHostKey } from './host-key.ts';
import { Ssh2Connection } from './ssh2-connection.ts';
import type { SshClient, SshConnection, SshDialOptions, SshTarget } from './ssh-client.ts';

// ssh2 is CommonJS; Node exposes only its default export to ES modules.
const { Client } = ssh2;

export interface Ssh2ClientOptions {
  /** Receives debug lines about connections; nothing is logged without it. */
  readonly log?: Logger;
}

export class Ssh2Client implements SshClient {
  readonly #log: Logger | undefined;

  constructor(options: Ssh2ClientOptions = {}) {
    this.#log = options.log;
  }

  async dial(target: SshTarget, options: SshDialOptions): Promise<SshConnection> {
    const { signal, connectTimeoutMs, hostKey } = options;
    signal?.throwIfAborted();
    const endpoint = parseSshAddress(target.address);
    const address = formatSshEndpoint(endpoint);
    const log = this.#log?.child({ address });
    const client = new Client();

    return new Promise<SshConnection>((resolve, reject) => {
      let settled = false;
      // Set when the policy refused the key, so the handshake failure it causes
      // is reported as a host key problem and not as a generic connect error.
      let refused: HostKeyMismatchError | undefined;

      const settle = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        client.removeListener('ready', onReady);
        client.removeListener('error', onError);
        client.removeListener('close', onClose);
        if (err === undefined) {
          log?.debug('ssh connected');
          resolve(new Ssh2Connection(client, address, log));
          return;
        }
        client.on('error', () => {}); // late socket errors after we gave up
        client.destroy();
        reject(err);
      };
      const onReady = (): void => settle(undefined);
      const onError = (err: Error & { level?: string }): void => settle(refused ?? mapDialError(err, address));
      const onClose = (): void =>
        settle(refused ?? new SshConnectError(`connection to ${address} closed during the ssh handshake`));
      const onAbort = (): void => settle(signal?.reason);
      const timer = setTimeout(() => settle(new SshTimeoutError('connect', connectTimeoutMs, address)), connectTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('close', onClose);
      // The protocol is many small request/reply messages; Nagle's algorithm
      // with delayed ACKs would add tens of milliseconds to each.
      client.once('connect', () => client.setNoDelay(true));

      const config: ConnectConfig = {
        host: endpoint.host,
        port: endpoint.port,
        username: options.username,
        // Our timer bounds the whole dial; ssh2's own would report a different error.
        readyTimeout: 0,
        tryKeyboard: false,
      };
      if ('privateKey' in options.auth) config.privateKey = options.auth.privateKey;
      else config.password = options.auth.password;
      if (hostKey.mode === 'verify') {
        // The two-argument form tells ssh2 to wait for `verify`.
        config.hostVerifier = (raw: Buffer, verify: (valid: boolean) => void): void => {
          const key = describeHostKey(raw);
          log?.debug({ fingerprint: key.fingerprint, algorithm: key.algorithm }, 'checking ssh host key');
          // Through a promise chain so a check that throws synchronously is a refusal too.
          Promise.resolve()
            .then(() => hostKey.check(key))
            .then(
              () => {
                if (!settled) verify(true);
              },
              (err: unknown) => {
                refused = new HostKeyMismatchError(address, key.fingerprint, { cause: err });
                if (!settled) verify(false);
              },
            );
        };
      }
      try {
        client.connect(config);
      } catch (err) {
        settle(new SshConnectError(`could not connect to ${address}`, { cause: err }));
      }
    });
  }
}

function mapDialError(err: Error & { level?: string }, address: string): Error {
  if (err.level === 'client-authentication') {
    return new SshAuthError(`ssh authentication to ${address} failed`, { cause: err });
  }
  return new SshConnectError(`could not connect to ${address}: ${err.message}`, { cause: err });
}
