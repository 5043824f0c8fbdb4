// Which agent executable the shepherd uploads: the one its options name, else
// the artifact `npm run build:agent` leaves in dist/ of this package, so a
// checkout that built it needs no setting.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** dist/bmaas-agent at the package root (resolved from this file, not the working directory). */
export const BUILT_AGENT_PATH = path.join(import.meta.dirname, '..', '..', 'dist', 'bmaas-agent');

/**
 * Thrown by resolveAgentExecutable: `unreadable` when the given file cannot
 * be read, `not-built` when none was given and the agent was not built.
 */
export class AgentExecutableError extends Error {
  override name = 'AgentExecutableError';
  readonly reason: 'unreadable' | 'not-built';
  readonly path: string;
  constructor(reason: 'unreadable' | 'not-built', file: string) {
    super(reason === 'unreadable' ? `cannot read ${file}` : `${file} is not built; run \`npm run build:agent\``);
    this.reason = reason;
    this.path = file;
  }
}

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
 * @throws AgentExecutableError when the given file cannot be read, or when
 *   nothing was given and the agent was not built.
 */
export async function resolveAgentExecutable(given: string | undefined, opts: { builtAgentPath?: string; signal?: AbortSignal } = {}): Promise<string> {
  opts.signal?.throwIfAborted();
  if (given !== undefined && given !== '') {
    if (!(await readable(given))) throw new AgentExecutableError('unreadable', given);
    return given;
  }
  const built = opts.builtAgentPath ?? BUILT_AGENT_PATH;
  if (await readable(built)) return built;
  throw new AgentExecutableError('not-built', built);
}
