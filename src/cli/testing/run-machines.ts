// Runs `bmaas machines …` in-process for tests: its exit code and what it
// printed (a UsageError becomes exit 2 with its message, as main.ts does).
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { parseFlags } from '../../lib/flags.ts';
import { command } from '../commands/machines.ts';

export async function runMachines(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  let code: number;
  try {
    const flags = parseFlags(command.flags, argv, { positionals: command.positionals ?? 0, env: {} });
    code = (await command.run(flags, { signal: new AbortController().signal, logger: pino({ level: 'silent' }), stdout, stderr })) ?? 0;
  } catch (e) {
    err += (e as Error).message;
    code = (e as Error).name === 'UsageError' ? 2 : 1;
  }
  return { code, out, err };
}
