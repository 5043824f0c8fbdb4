// The BMC of one simulated machine: a fake Redfish BMC on loopback with the
// machine's own credentials (user `admin` and a random password kept 0600 in
// the machine's directory, which the generated device list points at), whose
// resets really switch the machine off and on through the power hooks.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BmcCertificate } from './redfish-bmc-cert.ts';
import type { FakePowerHooks } from './redfish-bmc-power.ts';
import { FakeRedfishBmc } from './redfish-bmc.ts';

const SIM_BMC_USERNAME = 'admin';

/** How a simulated BMC behaves; `bmaas dev` sets these. */
export interface SimBmcTiming {
  /** From an accepted reset until the power goes off. */
  readonly resetDelayMs: number;
  /** How long a restart keeps the machine off. */
  readonly offMs: number;
}

export interface SimBmcOptions extends SimBmcTiming {
  /** The machine's directory; the password lives in `bmc-password` there. */
  readonly dir: string;
  readonly certificate: BmcCertificate;
  /** Share of requests answered 503 at random (a busy BMC); 0 for none. */
  readonly unavailableShare: number;
  readonly initialPower: 'On' | 'Off';
  readonly hooks: FakePowerHooks;
}

export interface SimBmc {
  readonly bmc: FakeRedfishBmc;
  readonly username: string;
  /** 0600 file holding the password (one line). */
  readonly passwordFile: string;
}

/** The machine's BMC password, made on first use. */
async function loadOrCreatePassword(file: string): Promise<string> {
  const stored = await readFile(file, 'utf8').catch(() => '');
  if (/^[A-Za-z0-9_-]{16,}\n?$/.test(stored)) return stored.trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

export async function startSimBmc(o: SimBmcOptions): Promise<SimBmc> {
  const passwordFile = path.join(o.dir, 'bmc-password');
  const password = await loadOrCreatePassword(passwordFile);
  const bmc = new FakeRedfishBmc({
    username: SIM_BMC_USERNAME,
    password,
    certificate: o.certificate,
    resetDelayMs: o.resetDelayMs,
    offMs: o.offMs,
    initialPower: o.initialPower,
    unavailableShare: o.unavailableShare,
    ...o.hooks,
  });
  await bmc.start();
  return { bmc, username: SIM_BMC_USERNAME, passwordFile };
}
