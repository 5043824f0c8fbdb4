// Physical network interfaces from /sys/class/net.
import type { NetworkInterfaceReport } from './node-report.ts';
import type { SysfsScope } from './sysfs-reader.ts';

/** sysfs `speed` is in Mb/s (10^6 bits); the report wants bytes/s: × 10^6 / 8. */
const bytesPerMegabit = 125_000n;

/** Parses `aa:bb:cc:dd:ee:ff` (any length, InfiniBand addresses have 20 bytes). */
export function parseHardwareAddress(text: string): Uint8Array | undefined {
  const parts = text.split(':');
  if (parts.length < 2 || !parts.every((p) => /^[0-9a-f]{2}$/i.test(p))) return undefined;
  return Uint8Array.from(parts, (p) => Number.parseInt(p, 16));
}

/**
 * The link is up when the kernel says the interface is operational. Drivers
 * that do not track operstate leave it `unknown`; then the carrier decides.
 */
function isLinkUp(operstate: string | undefined, carrier: string | undefined): boolean {
  if (operstate === 'up') return true;
  if (operstate === 'unknown' || operstate === undefined) return carrier === '1';
  return false;
}

async function readInterface(nic: SysfsScope): Promise<NetworkInterfaceReport> {
  const [address, driverLink, operstate, carrier, speed] = await Promise.all([
    nic.text('address'),
    nic.link('device/driver'),
    nic.text('operstate', { optional: true }),
    // Both answer EINVAL while the interface is administratively down.
    nic.text('carrier', { optional: true, quiet: ['EINVAL'] }),
    nic.int('speed', { optional: true, quiet: ['EINVAL'] }),
  ]);
  let mac: Uint8Array = new Uint8Array();
  if (address !== undefined) {
    const parsed = parseHardwareAddress(address);
    if (parsed) mac = parsed;
    else nic.warn('address', `not a hardware address: ${JSON.stringify(address.slice(0, 64))}`);
  }
  const linkUp = isLinkUp(operstate, carrier);
  return {
    mac,
    driver: driverLink?.split('/').at(-1) ?? '',
    // sysfs does not list the supported link modes (only ethtool over netlink
    // does), so this stays empty rather than guessed.
    supportedSpeedBytes: [],
    linkUp,
    // -1 (or no value) means unknown, which the report spells 0.
    currentSpeedBytes: linkUp && speed !== undefined && speed > 0 ? BigInt(speed) * bytesPerMegabit : 0n,
  };
}

/**
 * Every interface backed by a device. Loopback and virtual interfaces
 * (bridges, bonds, tunnels, veths) have no `device` link and are skipped.
 */
export async function readNetworkInterfaces(net: SysfsScope): Promise<NetworkInterfaceReport[]> {
  const names = await net.list('');
  const found: NetworkInterfaceReport[] = [];
  for (const name of names ?? []) {
    if (name === 'lo') continue;
    const nic = net.sub(name);
    if ((await nic.exists('device')) !== true) continue;
    found.push(await readInterface(nic));
  }
  return found;
}
