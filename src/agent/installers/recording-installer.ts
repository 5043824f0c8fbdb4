// A test installer: appends each request as a JSON line to a file instead of
// touching any disk, so tests (and dry runs) can see what would be installed.
import { appendFile } from 'node:fs/promises';
import type { Installer } from './installer.ts';

export function recordingInstaller(logFile: string, opts: { fail?: string } = {}): Installer {
  return {
    async install(request) {
      const line = JSON.stringify({ generation: request.generation.toString(), kind: request.type.case, bundleUrl: request.type.value?.bundleUrl, rootDevice: request.type.value?.rootDevice });
      await appendFile(logFile, `${line}\n`);
      if (opts.fail) throw new Error(opts.fail);
    },
  };
}
