// An SshClient that needs no network, for tests: it plays the agent's takeover
// side itself, answering each init with a fresh key (or a scripted failure).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { decodeTakeoverInit, decodeTakeoverResponse, encodeTakeoverResponse, type TakeoverInit } from '../../proto/index.ts';
import { describeHostKey, HostKeyMismatchError, SshConnectError } from '../ssh/index.ts';
import type { SshClient, SshConnection, SshDialOptions, SshExecOptions, SshExecResult, SshTarget } from '../ssh/index.ts';

/** What the fake does for one exec: return these bytes, or derive them from the init. */
export type FakeAgentBehaviour = (init: TakeoverInit) => { stdout: Uint8Array; stderr?: string; exitCode?: number };

export const succeed: FakeAgentBehaviour = (init) => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { stdout: encodeTakeoverResponse({ result: { case: 'success', value: { initMessage: init, key, warning: [] } } }) };
};

export class FakeSshClient implements SshClient {
  /** Keys handed out, by machine id. */
  readonly keys = new Map<string, Uint8Array>();
  readonly dials: string[] = [];
  readonly uploads: Array<{ address: string; localPath: string; remotePath: string }> = [];
  /** Per-address behaviour; `behaviour` otherwise. */
  readonly byAddress = new Map<string, FakeAgentBehaviour | 'unreachable'>();
  behaviour: FakeAgentBehaviour = succeed;
  /** The host key every address shows (wire blob); per-address overrides below. */
  hostKey: Buffer = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
  readonly hostKeys = new Map<string, Buffer>();

  async dial(target: SshTarget, options: SshDialOptions): Promise<SshConnection> {
    options.signal?.throwIfAborted();
    this.dials.push(target.address);
    const mode = this.byAddress.get(target.address);
    if (mode === 'unreachable') throw new SshConnectError(`could not connect to ${target.address}: connection refused`);
    if (options.hostKey.mode === 'verify') {
      const key = describeHostKey(this.hostKeys.get(target.address) ?? this.hostKey);
      try {
        await options.hostKey.check(key);
      } catch (err) {
        throw new HostKeyMismatchError(target.address, key.fingerprint, { cause: err });
      }
    }
    const behaviour = mode ?? this.behaviour;
    const uploads = this.uploads;
    const keys = this.keys;
    return {
      upload(localPath: string, remotePath: string) {
        uploads.push({ address: target.address, localPath, remotePath });
        return Promise.resolve();
      },
      exec(_command: string, execOptions: SshExecOptions = {}): Promise<SshExecResult> {
        const init = decodeTakeoverInit(execOptions.stdin ?? new Uint8Array());
        const out = behaviour(init);
        // Remember the keys of successful answers so tests can compare.
        try {
          const { result } = decodeTakeoverResponse(out.stdout);
          if (result.case === 'success') keys.set(init.machineId, result.value.key);
        } catch {
          // a deliberately malformed answer
        }
        return Promise.resolve({ stdout: Buffer.from(out.stdout), stderr: Buffer.from(out.stderr ?? ''), exitCode: out.exitCode ?? 0 });
      },
      close: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
}
