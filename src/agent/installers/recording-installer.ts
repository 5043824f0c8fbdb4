// A test installer: appends each request as a JSON line to a file instead of
// touching any disk, so tests (and dry runs) can see what would be installed.
import { appendFile } from 'node:fs/promises';
import type { Installer } from './installer.ts';

export function recordingInstaller(logFile: string, opts: { fail?: string } = {}): Installer {
  return {
    async install(request) {
      const t = request.type;
      const fields =
        t.case === 'metropolis' ? { bundleUrl: t.value.bundleUrl, rootDevice: t.value.rootDevice }
        : t.case === 'image' ? { url: t.value.url, sha256: Buffer.from(t.value.sha256).toString('hex'), targetDevice: t.value.targetDevice, postInstallCommand: t.value.postInstallCommand }
        : {};
      const line = JSON.stringify({ generation: request.generation.toString(), kind: t.case, ...fields });
      await appendFile(logFile, `${line}\n`);
      if (opts.fail) throw new Error(opts.fail);
    },
  };
}
