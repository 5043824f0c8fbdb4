// The `install` action's arguments and the request it writes
// (docs/architecture.md#image-installation): an image URL, its SHA-256 as hex,
// the target device and an optional post-install command, checked here so a
// request the agent would refuse outright is refused at the CLI or API instead.
import { create, toBinary } from '@bufbuild/protobuf';
import { OSInstallationRequestSchema } from '../proto/index.ts';
import { ActionArgumentError } from './errors.ts';

export interface InstallArguments {
  readonly image: string;
  /** 32 bytes. */
  readonly sha256: Uint8Array;
  readonly device: string;
  readonly postInstallCommand?: string | undefined;
}

/** Checks the raw (already one-line, bounded) strings and converts them. @throws ActionArgumentError */
export function checkInstallArguments(a: Readonly<Record<string, string | undefined>>): InstallArguments {
  const image = a.image!;
  let url: URL | undefined;
  try {
    url = new URL(image);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ActionArgumentError('argument image must be an http(s) URL');
  const hex = a.sha256!.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ActionArgumentError('argument sha256 must be 64 hex digits (the SHA-256 of the whole image)');
  const device = a.device!;
  if (!device.startsWith('/') || device.includes('\0')) throw new ActionArgumentError('argument device must be an absolute path, e.g. /dev/sda');
  return { image: url.href, sha256: Uint8Array.from(Buffer.from(hex, 'hex')), device, postInstallCommand: a.postInstallCommand };
}

/** One line for the plan and the audit trail. */
export function describeInstall(generation: number, a: InstallArguments): string {
  const digest = Buffer.from(a.sha256).toString('hex');
  return `installation request of generation ${generation} written: image ${a.image} (sha256 ${digest}) onto ${a.device}${a.postInstallCommand ? `, then ${JSON.stringify(a.postInstallCommand)}` : ''}`;
}

/** The serialized OSInstallationRequest with its `image` case. */
export function imageRequestBytes(generation: number, a: InstallArguments): Uint8Array {
  const request = create(OSInstallationRequestSchema, {
    generation: BigInt(generation),
    type: { case: 'image', value: { url: a.image, sha256: a.sha256, targetDevice: a.device, postInstallCommand: a.postInstallCommand ?? '' } },
  });
  return toBinary(OSInstallationRequestSchema, request);
}
