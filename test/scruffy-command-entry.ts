// Runs `bmaas scruffy` straight from its command module, the way src/cli/main.ts
// would (flags parsed from argv, SIGTERM/SIGINT abort, JSON logs on stderr), for
// tests that need it as a child process independently of main's command table.
import pino from 'pino';
import { command } from '../src/cli/commands/scruffy.ts';
import { parseFlags } from '../src/lib/flags.ts';

const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort(new Error(`received ${sig}`)));
const flags = parseFlags(command.flags, process.argv.slice(2));
const logger = pino({ level: flags.string('log-level') ?? 'info', base: { process: command.name } }, pino.destination(2));
const code = await command.run(flags, { signal: controller.signal, logger, stdout: process.stdout, stderr: process.stderr });
process.exitCode = code ?? 0;
