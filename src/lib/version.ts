// The project's version and a one-line description of this process, recorded
// in session rows so an operator can tell which instance holds what.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export function runtimeInfo(): string {
  return `host=${os.hostname()} pid=${process.pid} version=${VERSION} node=${process.version}`;
}
