// Which device an image installation may overwrite (docs/architecture.md#image-installation).
// The target must be a block device (or, when allowed, a regular file, for
// tests and loop-back setups) that nothing on this machine uses: not the
// running root filesystem, no mounted filesystem, no swap, no holder (device
// mapper, RAID, LVM). A file counts as used when a loop device backed by it
// is. The view of the system comes from /proc and /sys, whose roots can be
// moved for tests; the target itself is always the real path.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageInstallError } from './errors.ts';

export interface SystemView {
  /** Default `/proc`. */
  readonly procRoot?: string;
  /** Default `/sys`. */
  readonly sysRoot?: string;
}

export interface TargetDevice {
  /** The target with symbolic links resolved. */
  readonly path: string;
  readonly kind: 'block' | 'file';
  /** How many bytes fit: the block device's size, or the file's current length (never grown). */
  readonly capacityBytes: number;
}

/** The target is in use or is not something the installer writes; nothing was written. */
export class TargetRefusedError extends ImageInstallError {
  override readonly name = 'TargetRefusedError';
}

/** A block device the target covers: itself, a partition of it, or a loop device over the file. */
interface Member {
  readonly name: string;
  readonly devnum: string;
  readonly sysDir: string;
  /** How the member relates to the target, for messages. */
  readonly via: string;
}

const text = (p: string) => readFile(p, 'utf8').then((s) => s.trim(), () => null);

/** Linux's dev_t split into `major:minor` as /proc and /sys write it. */
function devnum(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** Octal escapes (`\040` for a space) as /proc/self/mountinfo and /proc/swaps write them. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

async function blockMembers(sysDir: string, via: string): Promise<Member[]> {
  const name = path.basename(sysDir);
  const own = await text(path.join(sysDir, 'dev'));
  const out: Member[] = own ? [{ name, devnum: own, sysDir, via }] : [];
  for (const entry of await readdir(sysDir).catch(() => [])) {
    const child = path.join(sysDir, entry);
    if ((await text(path.join(child, 'partition'))) === null) continue;
    const dev = await text(path.join(child, 'dev'));
    if (dev) out.push({ name: entry, devnum: dev, sysDir: child, via: `partition ${entry} of ${via}` });
  }
  return out;
}

/** Loop devices whose backing file is `file`, with their partitions. */
async function loopMembers(sysRoot: string, file: string): Promise<Member[]> {
  const out: Member[] = [];
  for (const name of await readdir(path.join(sysRoot, 'block')).catch(() => [])) {
    if (!name.startsWith('loop')) continue;
    const backing = await text(path.join(sysRoot, 'block', name, 'loop', 'backing_file'));
    if (backing === null || backing.replace(/ \(deleted\)$/, '') !== file) continue;
    const sysDir = await realpath(path.join(sysRoot, 'block', name)).catch(() => path.join(sysRoot, 'block', name));
    out.push(...(await blockMembers(sysDir, `loop device /dev/${name} backed by ${file}`)));
  }
  return out;
}

/** The device number of a path, when it is a block device. */
async function blockDevnum(p: string): Promise<string | null> {
  const s = await stat(p, { bigint: true }).catch(() => null);
  return s?.isBlockDevice() ? devnum(s.rdev) : null;
}

async function refuseMounted(procRoot: string, target: string, members: readonly Member[]): Promise<void> {
  const info = await readFile(path.join(procRoot, 'self', 'mountinfo'), 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TargetRefusedError(`cannot read ${procRoot}/self/mountinfo to check that ${target} is not mounted: ${err.code ?? err.message}`);
  });
  const byDevnum = new Map(members.map((m) => [m.devnum, m]));
  let first: TargetRefusedError | undefined;
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, rawSource] = right.split(' ');
    const mountPoint = unescape(f[4] ?? '?');
    const source = unescape(rawSource ?? '');
    // The mount's own device number, and that of its source (btrfs and others
    // report an anonymous device number, so the source is checked too).
    let via = byDevnum.get(f[2] ?? '')?.via;
    if (via === undefined && source.startsWith('/')) {
      const real = await realpath(source).catch(() => source);
      const dn = real === target ? null : await blockDevnum(real);
      via = real === target ? target : dn ? byDevnum.get(dn)?.via : undefined;
    }
    if (via === undefined) continue;
    const what = via === target ? target : `${target} (${via})`;
    // The root filesystem is named as such even when bind mounts of it come first.
    if (mountPoint === '/') throw new TargetRefusedError(`refusing to write ${what}: it holds the running root filesystem (${source || fstype} mounted at /)`);
    first ??= new TargetRefusedError(`refusing to write ${what}: it holds a mounted filesystem (${fstype} ${source} at ${mountPoint})`);
  }
  if (first) throw first;
}

async function refuseSwap(procRoot: string, target: string, members: readonly Member[]): Promise<void> {
  const swaps = await readFile(path.join(procRoot, 'swaps'), 'utf8').catch(() => '');
  const devnums = new Set(members.map((m) => m.devnum));
  for (const line of swaps.split('\n').slice(1)) {
    const file = unescape(line.split(/\s+/)[0] ?? '');
    if (!file.startsWith('/')) continue;
    const real = await realpath(file).catch(() => file);
    const dn = await blockDevnum(real);
    if (real === target || (dn && devnums.has(dn))) throw new TargetRefusedError(`refusing to write ${target}: ${file} on it is in use as swap`);
  }
}

async function refuseHeld(target: string, members: readonly Member[]): Promise<void> {
  for (const m of members) {
    const holders = await readdir(path.join(m.sysDir, 'holders')).catch(() => []);
    if (holders.length) {
      throw new TargetRefusedError(`refusing to write ${target}: ${m.via === target ? m.name : m.via} is held by ${holders.join(', ')} (device mapper, RAID or LVM)`);
    }
  }
}

/**
 * Resolves and checks the target of an image installation.
 * @throws TargetRefusedError naming what uses the target, or why it is not a target at all.
 */
export async function checkTargetDevice(requested: string, opts: SystemView & { allowFiles?: boolean } = {}): Promise<TargetDevice> {
  const procRoot = opts.procRoot ?? '/proc';
  const sysRoot = opts.sysRoot ?? '/sys';
  if (!path.isAbsolute(requested)) throw new TargetRefusedError(`target device ${JSON.stringify(requested)} is not an absolute path`);
  const target = await realpath(requested).catch((err: NodeJS.ErrnoException) => {
    throw new TargetRefusedError(`target device ${requested} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be resolved: ${err.code ?? err.message}`}`);
  });
  const s = await stat(target, { bigint: true });
  let members: Member[];
  let capacityBytes: number;
  let kind: TargetDevice['kind'];
  if (s.isBlockDevice()) {
    kind = 'block';
    const dn = devnum(s.rdev);
    const sysDir = await realpath(path.join(sysRoot, 'dev', 'block', dn)).catch(() => {
      throw new TargetRefusedError(`target device ${target} (${dn}) is not listed in ${sysRoot}/dev/block, so its users cannot be checked`);
    });
    members = await blockMembers(sysDir, target);
    capacityBytes = Number(await text(path.join(sysDir, 'size'))) * 512;
  } else if (s.isFile()) {
    if (!opts.allowFiles) throw new TargetRefusedError(`target ${target} is a regular file, not a block device (the agent writes files only with --install-allow-files)`);
    kind = 'file';
    members = await loopMembers(sysRoot, target);
    capacityBytes = Number(s.size);
  } else {
    throw new TargetRefusedError(`target ${target} is neither a block device nor a regular file`);
  }
  await refuseMounted(procRoot, target, members);
  await refuseSwap(procRoot, target, members);
  await refuseHeld(target, members);
  if (!(capacityBytes > 0)) throw new TargetRefusedError(`target ${target} has no room (size 0)`);
  return { path: target, kind, capacityBytes };
}
