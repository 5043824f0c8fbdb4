// The power of one fake BMC's machine: resets are accepted at once and take
// effect later, the way real BMCs apply them (off after `resetDelayMs`, on again
// `offMs` later), with hooks so a simulated machine can really stop and start
// (or, when it died, never come on again).

export type FakePowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff';

export interface FakePowerTiming {
  /** From an accepted reset until power goes off (or comes on, for `On`). Default 300 ms. */
  readonly resetDelayMs?: number;
  /** How long a restart keeps the machine off before it comes back. Default 300 ms. */
  readonly offMs?: number;
}

export interface FakePowerHooks {
  onPowerOff?: () => void;
  onPowerOn?: () => void;
  /** False keeps the machine off whatever is asked (a board that died); default always true. */
  canPowerOn?: () => boolean;
}

export class FakePower {
  state: FakePowerState;
  /** ISO time of the last reset that took effect (Redfish LastResetTime). */
  lastResetTime: string;
  readonly #timing: Required<FakePowerTiming>;
  readonly #hooks: FakePowerHooks;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(initial: 'On' | 'Off', timing: FakePowerTiming, hooks: FakePowerHooks) {
    this.state = initial;
    this.lastResetTime = new Date().toISOString();
    this.#timing = { resetDelayMs: timing.resetDelayMs ?? 300, offMs: timing.offMs ?? 300 };
    this.#hooks = hooks;
  }

  /** Starts the effect of an accepted reset type; returns at once. */
  apply(type: string): void {
    const { resetDelayMs, offMs } = this.#timing;
    switch (type) {
      case 'On':
      case 'ForceOn':
        if (this.state === 'Off') this.#later(resetDelayMs, () => this.#on());
        break;
      case 'ForceOff':
      case 'GracefulShutdown':
        if (this.state === 'On') this.#later(resetDelayMs, () => this.#off());
        break;
      case 'PushPowerButton':
        this.#later(resetDelayMs, () => (this.state === 'On' ? this.#off() : this.#on()));
        break;
      default: // GracefulRestart, ForceRestart, PowerCycle: off, then on again
        this.#later(resetDelayMs, () => {
          this.state = 'PoweringOff';
          this.#later(offMs / 3, () => {
            this.#off();
            this.#later(offMs, () => this.#on());
          });
        });
    }
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #off(): void {
    this.state = 'Off';
    this.#hooks.onPowerOff?.();
  }

  #on(): void {
    if (this.#hooks.canPowerOn?.() === false) return;
    this.state = 'On';
    this.lastResetTime = new Date().toISOString();
    this.#hooks.onPowerOn?.();
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }
}
