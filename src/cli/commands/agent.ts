// bmaas agent takeover|run: the agent's two modes from the main CLI (the
// shippable agent executable, `npm run build:agent`, runs the same code).
import path from 'node:path';
import type { Command } from '../command.ts';
import { UsageError } from '../../lib/flags.ts';
import { AGENT_FLAGS, runCommand, takeoverCommand } from '../../agent/index.ts';

export const command: Command = {
  name: 'agent',
  summary: 'run the machine agent: takeover (over SSH) or the heartbeat daemon',
  usage: 'takeover|run [flags]',
  description: 'takeover reads a TakeoverInit on stdin, persists the agent key and state, starts the daemon detached and writes a TakeoverResponse on stdout. run heartbeats to the callback server, reports hardware and installs what it is asked to.',
  positionals: 1,
  flags: [...AGENT_FLAGS, { name: 'log-level', type: 'string', default: 'info', placeholder: 'LEVEL', description: 'trace, debug, info, warn, error or silent' }],
  async run(flags, ctx) {
    const mode = flags.positionals[0];
    if (flags.positionals.length !== 1 || (mode !== 'takeover' && mode !== 'run')) throw new UsageError('expected exactly one of: takeover, run');
    const bin = path.resolve(import.meta.dirname, '../../../bin/bmaas.js');
    const io = { stdin: process.stdin, stdout: ctx.stdout, logger: ctx.logger, signal: ctx.signal, selfCommand: [process.execPath, bin, 'agent'] };
    return mode === 'takeover' ? takeoverCommand(flags, io) : runCommand(flags, io);
  },
};
