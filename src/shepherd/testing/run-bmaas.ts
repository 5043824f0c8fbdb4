// Runs `bmaas <args>` as a child process with the Node running the tests, the
// way an operator would, capturing its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..', '..');

export interface BmaasProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export function spawnBmaas(args: readonly string[], env: NodeJS.ProcessEnv = {}): BmaasProcess {
  const fullEnv = { ...process.env, ...env };
  if (!('BMAAS_BMDB_URL' in env)) delete fullEnv.BMAAS_BMDB_URL;
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'bmaas.js'), ...args], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs to completion; killed with SIGKILL after `timeoutMs`. */
export async function runBmaas(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnBmaas(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
