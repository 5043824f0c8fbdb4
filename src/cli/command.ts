// The shape of a `bmaas` subcommand. Each lives in commands/<name>.ts,
// exports `command`, and is listed in main.ts's command table.
import type { Logger } from 'pino';
import type { FlagSpec, ParsedFlags } from '../lib/flags.ts';

export interface CommandContext {
  /** Aborted on SIGINT/SIGTERM: shut down cleanly. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) after `bmaas <name>`, e.g. `up|down|status [flags]`. */
  readonly usage?: string;
  /** More text shown by --help. */
  readonly description?: string;
  readonly flags: readonly FlagSpec[];
  /** How many positional arguments it takes (default 0); more are refused as a usage error. */
  readonly positionals?: number;
  /** Returns the exit code (default 0). Throw UsageError for bad input. */
  run(flags: ParsedFlags, ctx: CommandContext): Promise<number | void>;
}
