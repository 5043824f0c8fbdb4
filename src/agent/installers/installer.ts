// Installers: one per kind of OS installation request (the `type` oneof),
// so new kinds are added without touching the heartbeat loop.
import type { Logger } from 'pino';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { OSInstallationReportSchema, OSInstallationRequest } from '../../proto/index.ts';

export type InstallationKind = NonNullable<OSInstallationRequest['type']['case']>;

/** How far an installation got; the heartbeat loop sends the latest one along. */
export interface InstallProgress {
  readonly stage: 'writing' | 'verifying' | 'post-install';
  readonly bytesDone: number;
  /** 0 when not known. */
  readonly bytesTotal: number;
}

export interface InstallOptions {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Called as the installation goes on (often: keep it cheap). */
  readonly progress?: (p: InstallProgress) => void;
}

export interface Installer {
  /** Installs; resolves on success and throws with a readable message on failure. */
  install(request: OSInstallationRequest, opts: InstallOptions): Promise<void>;
}

export type InstallerRegistry = Partial<Record<InstallationKind, Installer>>;

export type InstallationReportInit = MessageInitShape<typeof OSInstallationReportSchema>;

export interface InstallationOutcome {
  readonly report: InstallationReportInit;
  readonly succeeded: boolean;
}

/** Dispatches by kind; unknown kinds and installer failures become error reports. */
export async function runInstallation(registry: InstallerRegistry, request: OSInstallationRequest, opts: InstallOptions): Promise<InstallationOutcome> {
  const kind = request.type.case;
  const installer = kind === undefined ? undefined : registry[kind];
  const generation = request.generation;
  if (!installer) {
    const error = kind === undefined ? 'installation request of a kind this agent does not know' : `no installer for ${kind} installation requests`;
    return { succeeded: false, report: { generation, result: { case: 'error', value: { error } } } };
  }
  try {
    await installer.install(request, opts);
    return { succeeded: true, report: { generation, result: { case: 'success', value: {} } } };
  } catch (err) {
    return { succeeded: false, report: { generation, result: { case: 'error', value: { error: (err as Error).message } } } };
  }
}
