// OS installation: the installer seam and the installers we ship.
export { runInstallation, type Installer, type InstallerRegistry, type InstallationKind, type InstallationOutcome, type InstallationReportInit } from './installer.ts';
export { imageInstaller, ImageInstallError, type ImageInstallerOptions } from './image-installer.ts';
export { recordingInstaller } from './recording-installer.ts';
