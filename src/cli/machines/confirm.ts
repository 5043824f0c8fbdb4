// The confirmation a bulk action asks for: a question on the terminal, or a
// refusal when nobody can answer it.
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../../lib/flags.ts';

export interface ConfirmIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
}

/** Resolves to whether the operator typed yes; throws UsageError when stdin is not a terminal. */
export async function confirm(question: string, io: ConfirmIo, signal: AbortSignal): Promise<boolean> {
  if (!io.stdin.isTTY) throw new UsageError(`${question.replace(/\?$/, '')}: stdin is not a terminal, so give --yes to go ahead (or --dry-run to look first)`);
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
