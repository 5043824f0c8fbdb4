// A simulated machine's disks for image installations: `/dev/<name>` in a
// request is a sparse file `<machine dir>/disks/<name>` (created at first use),
// written by the agent's real image installer, so `bmaas dev` carries out an
// installation with every step but the block device.
import { open, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../proto/index.ts';
import { imageInstaller, ImageInstallError, type Installer } from '../agent/index.ts';

/** Size of a simulated disk: sparse, so it costs only what an image writes. */
export const SIM_DISK_BYTES = 4 * 1024 ** 3;

export function simImageInstaller(machineDir: string): Installer {
  const real = imageInstaller({ allowFiles: true });
  return {
    async install(request, opts) {
      if (request.type.case !== 'image') return real.install(request, opts);
      const name = /^\/dev\/([a-z][a-z0-9]{0,31})$/.exec(request.type.value.targetDevice)?.[1];
      if (!name) throw new ImageInstallError(`simulated machines have disks /dev/<name> only, not ${request.type.value.targetDevice}`);
      const disks = path.join(machineDir, 'disks');
      await mkdir(disks, { recursive: true });
      const file = path.join(disks, name);
      const fh = await open(file, 'a');
      try {
        if ((await fh.stat()).size === 0) await fh.truncate(SIM_DISK_BYTES);
      } finally {
        await fh.close();
      }
      const onDisk = create(OSInstallationRequestSchema, { ...request, type: { case: 'image', value: { ...request.type.value, targetDevice: file } } });
      await real.install(onDisk, opts);
    },
  };
}
