// The standalone agent executable (what `npm run build:agent` packs into a
// Node single-executable application): `bmaas-agent takeover|run [flags]`.
import { isSea } from 'node:sea';
import pino from 'pino';
import { formatFlagHelp, parseFlags, UsageError, wantsHelp } from '../lib/flags.ts';
import { LOG_SERIALIZERS } from '../lib/log-serializers.ts';
import { AGENT_FLAGS, runCommand, takeoverCommand } from './agent-cli.ts';

const USAGE = `Usage: bmaas-agent [takeover|run] [flags]

takeover  (the default) read TakeoverInit on stdin, write TakeoverResponse on stdout, start the daemon
run       the heartbeat daemon

Flags:
${formatFlagHelp(AGENT_FLAGS)}`;

/** How to start this same program again (for the detached daemon). */
export function selfCommand(): string[] {
  return isSea() ? [process.execPath] : [process.execPath, process.argv[1]!];
}

export async function main(argv: readonly string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // The initializer runs the uploaded executable with no arguments: that is takeover.
  const explicit = argv[0] !== undefined && !argv[0].startsWith('-');
  const mode = explicit ? argv[0]! : 'takeover';
  const rest = explicit ? argv.slice(1) : argv;
  if (mode !== 'takeover' && mode !== 'run') {
    process.stderr.write(`bmaas-agent: unknown mode ${JSON.stringify(mode)}\n${USAGE}\n`);
    return 2;
  }
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => controller.abort(new Error(`received ${sig}`));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const flags = parseFlags(AGENT_FLAGS, rest);
    // Takeover's stdout is the protocol channel, so logs always go to stderr.
    const logger = pino({ base: { agent: mode, pid: process.pid }, serializers: LOG_SERIALIZERS }, pino.destination(2));
    const io = { stdin: process.stdin, stdout: process.stdout, logger, signal: controller.signal, selfCommand: selfCommand() };
    return mode === 'takeover' ? await takeoverCommand(flags, io) : await runCommand(flags, io);
  } catch (err) {
    process.stderr.write(`bmaas-agent ${mode}: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

// Both as a script (`node src/agent/main.ts`) and as the bundled executable
// (where the bundler defines import.meta.main as false).
if (import.meta.main || isSea()) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
