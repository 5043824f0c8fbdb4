// Which agent executable `bmaas shepherd` uploads: the one named by
// --agent-executable-path, else the artifact `npm run build:agent` leaves in
// dist/ of this package, so a checkout that built it needs no flag.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './flags.ts';

/** dist/bmaas-agent at the package root (resolved from this file, not the working directory). */
export const BUILT_AGENT_PATH = path.join(import.meta.dirname, '..', '..', 'dist', 'bmaas-agent');

async function readable(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path to upload: `given` when set, else `builtAgentPath` (default
 * BUILT_AGENT_PATH) when it exists.
 * @throws UsageError when the given file cannot be read, or when nothing was
 *   given and the agent was not built (saying how to fix either).
 */
export async function resolveAgentExecutable(given: string | undefined, opts: { builtAgentPath?: string; signal?: AbortSignal } = {}): Promise<string> {
  opts.signal?.throwIfAborted();
  if (given !== undefined && given !== '') {
    if (!(await readable(given))) throw new UsageError(`invalid value for --agent-executable-path: cannot read ${given}`);
    return given;
  }
  const built = opts.builtAgentPath ?? BUILT_AGENT_PATH;
  if (await readable(built)) return built;
  throw new UsageError(`no agent executable: ${built} is not built; run \`npm run build:agent\` or pass --agent-executable-path`);
}
