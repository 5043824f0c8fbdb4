// A real OpenSSH sshd for tests: own config, host key, authorized_keys and pid
// file in a temp dir, listening on loopback only, running as the current user.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSshEndpoint, hostKeyFingerprint } from '../src/shepherd/ssh/index.ts';
import { generateEd25519KeyPair } from '../src/lib/ssh-keygen.ts';

const CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd'];
const READY_TIMEOUT_MS = 10_000;
const SSHD_MISSING = `no sshd found in ${CANDIDATES.join(', ')} (apt-get install openssh-server)`;

export interface StartSshdOptions {
  /** Loopback addresses to listen on, e.g. 127.0.0.2..127.0.0.6; a free port is chosen when none is given. */
  readonly listen?: ReadonlyArray<{ readonly host: string; readonly port?: number }>;
  /** OpenSSH public key line allowed to log in as `user`. */
  readonly authorizedKey: string;
  readonly signal?: AbortSignal;
}

export interface Sshd extends AsyncDisposable {
  /** Where it listens, in the order given, with the chosen ports. */
  readonly endpoints: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** The same as "host:port" strings (IPv6 bracketed). */
  readonly addresses: readonly string[];
  /** SHA256 fingerprint of the current host key, as OpenSSH prints it. */
  readonly hostKeyFingerprint: string;
  /** The login name: the user running the tests (root in CI). */
  readonly user: string;
  /** The sshd's config, host key and logs live here. */
  readonly dir: string;
  /** Restarts sshd on the same ports with a freshly generated host key. */
  regenerateHostKey(): Promise<void>;
  /** Recent sshd log output, for assertion messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Thrown when no sshd binary is installed; a CI run should treat it as a failure. */
export class SshdNotFoundError extends Error {
  override name = 'SshdNotFoundError';
}

/** The sshd binary (`$SSHD` first), or undefined when none is installed. */
export function findSshd(): string | undefined {
  const candidates = process.env.SSHD ? [process.env.SSHD, ...CANDIDATES] : CANDIDATES;
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** CI and developers who ask for it get a failure, not a skip, when sshd is missing. */
export function sshdRequired(): boolean {
  return process.env.CI === 'true' || process.env.BMAAS_REQUIRE_SSHD === '1';
}

/**
 * `describe` for suites that need a real sshd, named `[sshd] <name>`. Without
 * sshd the suite is skipped with the reason, or fails when sshd is required.
 */
export function describeSshd(name: string, fn: () => void): void {
  const title = `[sshd] ${name}`;
  if (findSshd() !== undefined) {
    void describe(title, fn);
  } else if (sshdRequired()) {
    void describe(title, () => {
      void it('has sshd available', () => {
        assert.fail(`${SSHD_MISSING}; required because CI=true or BMAAS_REQUIRE_SSHD=1`);
      });
    });
  } else {
    void describe(title, { skip: SSHD_MISSING }, fn);
  }
}

export async function startSshd(options: StartSshdOptions): Promise<Sshd> {
  const binary = findSshd();
  if (binary === undefined) throw new SshdNotFoundError(SSHD_MISSING);
  const { signal } = options;
  signal?.throwIfAborted();
  const user = userInfo().username;
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // sshd's privilege separation directory: it must exist, owned by root, not writable by others.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  }

  const dir = await mkdtemp(join(tmpdir(), 'bmaas-sshd-'));
  await chmod(dir, 0o700);
  const endpoints = await Promise.all(
    (options.listen ?? [{ host: '127.0.0.1' }]).map(async ({ host, port }) => ({ host, port: port ?? (await freePort(host)) })),
  );
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  const authorizedKeysPath = join(dir, 'authorized_keys');
  const configPath = join(dir, 'sshd_config');
  await writeFile(authorizedKeysPath, `${options.authorizedKey.trim()}\n`, { mode: 0o600 });
  await writeFile(
    configPath,
    [
      ...endpoints.map((e) => `ListenAddress ${formatSshEndpoint(e)}`),
      `HostKey ${hostKeyPath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      `AllowUsers ${user}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `PermitRootLogin ${isRoot ? 'prohibit-password' : 'no'}`,
      // internal-sftp needs no sftp-server binary on the path.
      'Subsystem sftp internal-sftp',
      'PrintMotd no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  let fingerprint = await writeHostKey(hostKeyPath);
  let logTail = '';
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();

  const launch = async (): Promise<void> => {
    // -D: stay in the foreground so we own the process; -e: log to stderr.
    const proc = spawn(binary, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const append = (chunk: Buffer): void => {
      logTail = (logTail + chunk.toString()).slice(-16_384);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    exited = once(proc, 'exit').catch(() => {});
    let exitCode: number | null | undefined;
    proc.once('exit', (code, sig) => (exitCode = code ?? (sig ? -1 : null)));
    proc.once('error', (err) => {
      logTail += `\nspawn failed: ${err.message}`;
      exitCode = -1;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const endpoint of endpoints) {
      for (;;) {
        if (exitCode !== undefined) throw new Error(`sshd exited during start-up (${exitCode}):\n${logTail}`);
        if (await speaksSsh(endpoint)) break;
        if (Date.now() > deadline) throw new Error(`sshd did not accept on ${formatSshEndpoint(endpoint)} in time:\n${logTail}`);
        await sleep(25, undefined, { signal });
      }
    }
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    await halt();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await halt();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    endpoints,
    addresses: endpoints.map(formatSshEndpoint),
    get hostKeyFingerprint() {
      return fingerprint;
    },
    user,
    dir,
    async regenerateHostKey() {
      await halt();
      fingerprint = await writeHostKey(hostKeyPath);
      await launch();
    },
    log: () => logTail,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Writes a new Ed25519 host key (OpenSSH format, 0600) and returns its fingerprint. */
async function writeHostKey(path: string): Promise<string> {
  const pair = generateEd25519KeyPair('bmaas-test-sshd');
  await rm(path, { force: true });
  await writeFile(path, pair.private, { mode: 0o600 });
  await writeFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  const blob = pair.public.split(' ')[1] ?? '';
  return hostKeyFingerprint(Buffer.from(blob, 'base64'));
}

/** Asks the kernel for a port free on `host` now; sshd binds it a moment later. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when something on the endpoint accepts and sends an SSH banner. */
async function speaksSsh(endpoint: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
  });
}
