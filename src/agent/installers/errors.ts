// The installers' error: its message is what the installation report says.

/** An installation that could not be carried out; the message ends up in the error report. */
export class ImageInstallError extends Error {
  override readonly name: string = 'ImageInstallError';
}
