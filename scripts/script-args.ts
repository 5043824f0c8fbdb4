// Argument parsing shared by the dev scripts: node:util's parseArgs with
// --help, and a usage error that the scripts turn into exit code 2.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export class ScriptUsageError extends Error {
  override readonly name = 'ScriptUsageError';
}

/**
 * The option values; prints `usage` and exits on --help or -h.
 * @throws ScriptUsageError for unknown or malformed options.
 */
export function parseScriptArgs<const O extends ParseArgsOptionsConfig>(argv: string[], options: O, usage: string) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options }).values;
  } catch (err) {
    throw new ScriptUsageError(`${(err as Error).message}\n${usage}`);
  }
}
