// The agent's two modes as command-line programs, shared by `bmaas agent …`
// and the standalone agent executable (main.ts).
import { spawn } from 'node:child_process';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { durationFlagBounds, type FlagSpec, type ParsedFlags } from '../lib/flags.ts';
import { DEFAULT_STATE_DIR } from './agent-state.ts';
import { runDaemon } from './daemon.ts';
import { HEARTBEAT_BOUNDS, HEARTBEAT_DEFAULTS } from './heartbeat-options.ts';
import { MAX_TAKEOVER_INIT_BYTES, encodeResponse, readBounded, takeover, takeoverErrorResponse, TakeoverError } from './takeover.ts';

function writeOut(out: NodeJS.WritableStream, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => out.write(bytes, (err) => (err ? reject(err) : resolve())));
}

export const AGENT_FLAGS: readonly FlagSpec[] = [
  { name: 'state-dir', type: 'string', default: DEFAULT_STATE_DIR, env: 'BMAAS_AGENT_STATE_DIR', placeholder: 'DIR', description: 'where the agent keeps its key and settings' },
  { name: 'reboot-command', type: 'string', default: 'reboot', env: 'BMAAS_AGENT_REBOOT_COMMAND', placeholder: 'CMD', description: 'command (split on spaces) run after a successful installation was reported' },
  { name: 'install-allow-files', type: 'boolean', env: 'BMAAS_AGENT_INSTALL_ALLOW_FILES', description: 'let image installations write a regular file as their target (tests, loop-back files); default: block devices only' },
  { name: 'test-installer-log', type: 'string', env: 'BMAAS_AGENT_TEST_INSTALLER_LOG', placeholder: 'FILE', description: 'record installation requests in FILE instead of installing (tests and dry runs)' },
  {
    name: 'heartbeat-interval',
    type: 'duration',
    default: HEARTBEAT_DEFAULTS.intervalMs,
    ...durationFlagBounds(HEARTBEAT_BOUNDS.intervalMs),
    env: 'BMAAS_AGENT_HEARTBEAT_INTERVAL',
    description: 'time between heartbeats',
  },
  { name: 'heartbeat-timeout', type: 'duration', default: HEARTBEAT_DEFAULTS.callTimeoutMs, ...durationFlagBounds(HEARTBEAT_BOUNDS.callTimeoutMs), description: 'timeout of one heartbeat call' },
  { name: 'max-backoff', type: 'duration', default: HEARTBEAT_DEFAULTS.backoffMaxMs, ...durationFlagBounds(HEARTBEAT_BOUNDS.backoffMaxMs), description: 'longest wait between retries of a failing heartbeat' },
  { name: 'hardware-root', type: 'string', default: '/', placeholder: 'DIR', description: 'directory holding proc and sys for the hardware report' },
];

/** The daemon flags to hand on from takeover to the daemon it starts. */
function daemonArgs(flags: ParsedFlags): string[] {
  const args = ['--state-dir', path.resolve(flags.string('state-dir') ?? DEFAULT_STATE_DIR)];
  for (const name of ['reboot-command', 'test-installer-log', 'hardware-root']) {
    const v = flags.string(name);
    if (v !== undefined && flags.given(name)) args.push(`--${name}`, v);
  }
  if (flags.boolean('install-allow-files')) args.push('--install-allow-files');
  for (const name of ['heartbeat-interval', 'heartbeat-timeout', 'max-backoff']) {
    const v = flags.number(name);
    if (v !== undefined && flags.given(name)) args.push(`--${name}`, `${v}ms`);
  }
  return args;
}

export interface AgentIo {
  readonly stdin: AsyncIterable<Uint8Array | string>;
  readonly stdout: NodeJS.WritableStream;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** argv prefix that runs this agent, e.g. [execPath] for the executable or [node, bmaas.js, 'agent']. */
  readonly selfCommand: readonly string[];
}

/** Takeover mode: TakeoverInit on stdin, TakeoverResponse on stdout, daemon left running. Exit code 0 unless stdout fails. */
export async function takeoverCommand(flags: ParsedFlags, io: AgentIo): Promise<number> {
  const stateDir = path.resolve(flags.string('state-dir') ?? DEFAULT_STATE_DIR);
  let input: Uint8Array;
  try {
    input = await readBounded(io.stdin, MAX_TAKEOVER_INIT_BYTES);
  } catch (err) {
    if (!(err instanceof TakeoverError)) throw err;
    await writeOut(io.stdout, encodeResponse(takeoverErrorResponse(err.message)));
    return 0;
  }
  const response = await takeover(input, {
    stateDir,
    signal: io.signal,
    startDaemon: () => {
      // Detached in its own session so the SSH session ending does not take it down.
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const log = openSync(path.join(stateDir, 'agent.log'), 'a', 0o600);
      try {
        const [cmd, ...prefix] = io.selfCommand;
        const child = spawn(cmd!, [...prefix, 'run', ...daemonArgs(flags)], { detached: true, stdio: ['ignore', log, log] });
        child.unref();
        io.logger.info({ daemonPid: child.pid }, 'started agent daemon');
      } finally {
        closeSync(log);
      }
    },
  });
  if (response.result.case === 'error') io.logger.error({ message: response.result.value.message }, 'takeover failed');
  await writeOut(io.stdout, encodeResponse(response));
  return 0;
}

/** Daemon mode: heartbeat until SIGTERM. */
export async function runCommand(flags: ParsedFlags, io: AgentIo): Promise<number> {
  await runDaemon({
    stateDir: path.resolve(flags.string('state-dir') ?? DEFAULT_STATE_DIR),
    rebootCommand: (flags.string('reboot-command') ?? 'reboot').split(/\s+/).filter(Boolean),
    ...(flags.string('test-installer-log') ? { testInstallerLog: path.resolve(flags.string('test-installer-log')!) } : {}),
    installAllowFiles: flags.boolean('install-allow-files'),
    hardwareRoot: flags.string('hardware-root') ?? '/',
    intervalMs: flags.number('heartbeat-interval')!,
    callTimeoutMs: flags.number('heartbeat-timeout')!,
    backoffMaxMs: flags.number('max-backoff')!,
    logger: io.logger,
    signal: io.signal,
  });
  return 0;
}
