// The image installer's settings with their defaults, written once (the agent's
// flags take theirs from here).

export interface ImageInstallSettings {
  /** Longest run of a request's post-install command before it is stopped and the installation fails. */
  readonly postInstallTimeoutMs: number;
}

export const IMAGE_INSTALL_DEFAULTS: ImageInstallSettings = Object.freeze({ postInstallTimeoutMs: 600_000 });
