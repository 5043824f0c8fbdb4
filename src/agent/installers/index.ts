// OS installation: the installer seam and the installers we ship.
export { runInstallation, type Installer, type InstallerRegistry, type InstallationKind, type InstallationOutcome, type InstallationReportInit, type InstallOptions, type InstallProgress } from './installer.ts';
export { ImageInstallError } from './errors.ts';
export { imageInstaller, type ImageInstallerOptions } from './image-installer.ts';
export { IMAGE_INSTALL_DEFAULTS, type ImageInstallSettings } from './image-installer-options.ts';
export { checkTargetDevice, TargetRefusedError, type SystemView, type TargetDevice } from './target-device.ts';
export { recordingInstaller } from './recording-installer.ts';
