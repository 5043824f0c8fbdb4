// The BMC driver contract: read a machine's power state and ask its BMC for a
// reset, in the vocabulary of Redfish (IPMI maps onto it). Drivers are thin
// and unchecked; checked-power.ts adds the read-act-confirm discipline on top.

/** Power state as Redfish names it; `Unknown` when the BMC said something else or nothing usable. */
export type PowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff' | 'Unknown';

/** `ResetType` values of Redfish's `#ComputerSystem.Reset` action (DSP0268 ResetType). */
export const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle', 'Suspend', 'Pause', 'Resume'] as const;
export type ResetType = (typeof RESET_TYPES)[number];

export interface PowerReading {
  readonly state: PowerState;
  /** What the BMC literally reported (Redfish `PowerState`, ipmitool's output line). */
  readonly raw: string;
  /** Redfish `LastResetTime`, when the BMC reports it: evidence that a reset happened. */
  readonly lastReset?: string;
}

export interface BmcCallOptions {
  readonly signal?: AbortSignal;
}

export interface BmcDriver {
  /** The BMC's endpoint, for logs and error messages (never with credentials). */
  readonly endpoint: string;
  powerState(opts?: BmcCallOptions): Promise<PowerReading>;
  /** Asks for a reset; resolves once the BMC accepted the request, not once it took effect. */
  reset(type: ResetType, opts?: BmcCallOptions): Promise<void>;
  /** The reset types this BMC accepts for the machine. */
  allowedResets(opts?: BmcCallOptions): Promise<readonly ResetType[]>;
  /** Releases what the driver holds (a Redfish session, keep-alive sockets). Idempotent. */
  close(opts?: BmcCallOptions): Promise<void>;
}

/** Anything that hands out a password on request (src/lib/secret.ts's Secret is one). */
export interface PasswordSource {
  reveal(): string;
}

export type BmcTls = 'verify' | 'insecure' | { readonly caCertificate: string } | { readonly fingerprint: string };

export interface BmcTimeouts {
  /** One HTTP request or one ipmitool run, connect to last byte. Default 10 s (Redfish), 20 s (IPMI). */
  readonly requestMs?: number;
  /** Attempts for a retryable failure (5xx, 429, connection errors), first one included. Default 4. */
  readonly attempts?: number;
  /** First retry delay; doubles with jitter. Default 500 ms. */
  readonly backoffInitialMs?: number;
  /** Longest single wait between attempts, also for Retry-After. Default 10 s. */
  readonly backoffMaxMs?: number;
}

export interface BmcOptions {
  readonly driver: 'redfish' | 'ipmi';
  /** `http(s)://host[:port]` for Redfish; `host[:port]` (default 623) for IPMI. */
  readonly endpoint: string;
  /** Redfish only: the system's `@odata.id` or `Id`. When absent the BMC must expose exactly one. */
  readonly system?: string;
  readonly username: string;
  readonly password: PasswordSource;
  /** Redfish only; default `verify`. */
  readonly tls?: BmcTls;
  readonly timeouts?: BmcTimeouts;
  /** Redfish only: always log in through SessionService instead of trying Basic first. */
  readonly sessions?: boolean;
  /** IPMI only: ipmitool's `-C` cipher suite (default 3; ipmi_sim cannot negotiate one) and binary path. */
  readonly ipmi?: { readonly cipherSuite?: number; readonly ipmitool?: string };
}
