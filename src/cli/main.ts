// `bmaas`: one executable, one subcommand per component. Subcommands live in
// commands/<name>.ts and are listed in COMMANDS; this file only dispatches,
// wires signals and maps errors to exit codes (2 = bad usage, 1 = failure).
import pino from 'pino';
import { BmdbConfigError } from '../bmdb/index.ts';
import { VERSION } from '../lib/version.ts';
import { LOG_SERIALIZERS } from '../lib/log-serializers.ts';
import type { Command } from './command.ts';
import { command as agent } from './commands/agent.ts';
import { command as db } from './commands/db.ts';
import { command as dev } from './commands/dev.ts';
import { command as machines } from './commands/machines.ts';
import { command as migrate } from './commands/migrate.ts';
import { command as scruffy } from './commands/scruffy.ts';
import { command as server } from './commands/server.ts';
import { command as shepherd } from './commands/shepherd.ts';
import { command as webug } from './commands/webug.ts';
import { formatFlagHelp, parseFlags, UsageError, wantsHelp } from '../lib/flags.ts';

/** Every subcommand, in the order `bmaas --help` lists them. */
export const COMMANDS: readonly Command[] = [agent, db, dev, machines, migrate, scruffy, server, shepherd, webug];

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function usage(): string {
  const lines = [`bmaas ${VERSION}: bare-metal fleet control plane`, '', 'Usage: bmaas <command> [flags]', '', 'Commands:'];
  for (const cmd of COMMANDS) lines.push(`  ${cmd.name.padEnd(10)} ${cmd.summary}`);
  lines.push('', 'Run `bmaas <command> --help` for its flags.');
  return lines.join('\n');
}

function commandHelp(cmd: Command): string {
  const parts = [`Usage: bmaas ${cmd.name} ${cmd.usage ?? '[flags]'}`, '', cmd.summary];
  if (cmd.description) parts.push('', cmd.description);
  if (cmd.flags.length) parts.push('', 'Flags:', formatFlagHelp(cmd.flags));
  return parts.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = findCommand(name);
  if (!cmd) {
    process.stderr.write(`bmaas: unknown command ${JSON.stringify(name)} (try bmaas --help)\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(`${commandHelp(cmd)}\n`);
    return 0;
  }
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    if (interrupted > 1) {
      process.stderr.write(`bmaas: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`bmaas: ${sig} received, shutting down (again to force)\n`);
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const flags = parseFlags(cmd.flags, rest, { positionals: cmd.positionals ?? 0 });
    const level = cmd.flags.some((f) => f.name === 'log-level') ? (flags.string('log-level') ?? 'info') : 'info';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new UsageError(`invalid value for --log-level: ${JSON.stringify(level)}`);
    const logger = pino({ level, base: { process: cmd.name, pid: process.pid }, serializers: LOG_SERIALIZERS }, pino.destination(2));
    const code = await cmd.run(flags, { signal: controller.signal, logger, stdout: process.stdout, stderr: process.stderr });
    return code ?? 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof BmdbConfigError) {
      process.stderr.write(`bmaas ${cmd.name}: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`bmaas ${cmd.name}: ${e.message ?? String(err)}\n`);
    if (process.env.BMAAS_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
