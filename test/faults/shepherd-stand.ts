// A stand for fault tests of `bmaas shepherd` processes: a real sshd on
// loopback as the machines, the takeover stand-in as the agent behind a shell
// wrapper that can hang first, and a BMDB whose shepherds log in under the
// shepherd role. Every process it starts (shepherds, hanging remote commands)
// is stopped by id in close().
import { readFile, rm, mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadOrCreateSshKey } from '../../src/shepherd/ssh/index.ts';
import { spawnBmaas, waitFor, type BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { createRoleDatabase, type RoleDatabase } from '../role-database.ts';
import { startSshd, type Sshd } from '../sshd.ts';
import { writeTakeoverStandIn } from '../takeover-stand-in.ts';

/**
 * How the remote command behaves: hang on the first run only, on every run,
 * never, or (`gate`) wait on the first run until releaseGate() and then go on.
 */
export type HangMode = 'first' | 'always' | 'never' | 'gate';

export interface ShepherdStand {
  readonly db: RoleDatabase;
  readonly dir: string;
  /** Admin client on the test database. */
  readonly admin: pg.Client;
  /** Starts a shepherd under the shepherd role (at `url`, default the role's own); extra flags are appended. */
  spawnShepherd(extra?: readonly string[], opts?: { url?: string }): BmaasProcess;
  /** Lets a first run held by `gate` go on. */
  releaseGate(): Promise<void>;
  /** Rewrites the device list with `n` machines (send the shepherds SIGHUP to re-read it). */
  writeDevices(n: number): Promise<void>;
  /** Lines the stand-in wrote: one per completed takeover. */
  completedTakeovers(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startShepherdStand(opts: { machines: number; hang: HangMode; clusterAdminUrl?: string }): Promise<ShepherdStand> {
  const dir = await mkdtemp(join(tmpdir(), 'bmaas-fault-'));
  const key = await loadOrCreateSshKey(join(dir, 'id_ed25519'));
  const sshd: Sshd = await startSshd({ authorizedKey: key.publicKeyOpenSsh });
  const db = await createRoleDatabase({ clusterAdminUrl: opts.clusterAdminUrl });
  const admin = new pg.Client({ connectionString: db.adminUrl });
  admin.on('error', () => undefined);
  await admin.connect();
  const standIn = await writeTakeoverStandIn({ path: join(dir, 'stand-in'), keyLogPath: join(dir, 'takeovers.log') });
  const mark = join(dir, 'hung-once');
  const pids = join(dir, 'hung.pids');
  const hang = `echo $$ >> ${pids}; exec sleep 600`;
  const gate = join(dir, 'gate-open');
  const bodies: Record<HangMode, string> = {
    always: hang,
    first: `if [ ! -e ${mark} ]; then : > ${mark}; ${hang}; fi\nexec ${standIn}`,
    never: `exec ${standIn}`,
    // Ends with the stand's directory, so a test that fails before releaseGate() leaves no loop behind.
    gate: `if [ ! -e ${mark} ]; then : > ${mark}; while [ ! -e ${gate} ] && [ -d ${dir} ]; do sleep 0.1; done; fi\nexec ${standIn}`,
  };
  const body = bodies[opts.hang];
  const wrapper = join(dir, 'agent.sh');
  await writeFile(wrapper, `#!/bin/sh\n${body}\n`);
  await chmod(wrapper, 0o755);
  const devices = join(dir, 'devices.json');
  const endpoint = sshd.addresses[0]!;
  const writeDevices = (n: number): Promise<void> => writeFile(devices, JSON.stringify(Array.from({ length: n }, (_, i) => ({ ID: `fault-${i}`, Addr: endpoint, Location: 'loopback' }))));
  await writeDevices(opts.machines);
  const procs: BmaasProcess[] = [];
  const spawnShepherd = (extra: readonly string[] = [], spawnOpts: { url?: string } = {}): BmaasProcess => {
    const p = spawnBmaas([
      'shepherd',
      '--provider', 'mini',
      '--mini-device-list', `file://${devices}`,
      '--bmdb-url', spawnOpts.url ?? db.url('shepherd'),
      '--agent-executable-path', wrapper,
      '--agent-target-path', join(dir, `uploaded-${procs.length}`),
      '--agent-endpoint', '127.0.0.1:9',
      '--ssh-user', sshd.user,
      '--ssh-key-path', join(dir, 'id_ed25519'),
      '--ssh-insecure-ignore-host-key',
      '--provisioner-reconciler-rate', '200ms,1',
      '--provisioner-device-creation-rate', '10ms,20',
      '--initializer-db-query-rate', '100ms,4',
      ...extra,
    ]);
    procs.push(p);
    return p;
  };
  const close = async (): Promise<void> => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    for (const line of (await readFile(pids, 'utf8').catch(() => '')).split('\n')) {
      const pid = Number(line);
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone with its SSH session
        }
      }
    }
    await admin.end().catch(() => undefined);
    await sshd.stop();
    // Fails when the database went away for good (a failover test's old primary); the files go anyway.
    await db.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const completedTakeovers = async (): Promise<string[]> => (await readFile(join(dir, 'takeovers.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const releaseGate = (): Promise<void> => writeFile(gate, '');
  return { db, dir, admin, spawnShepherd, releaseGate, writeDevices, completedTakeovers, close };
}

/** The first row of a query on the admin client, undefined while the schema is missing. */
export async function firstRow(admin: pg.Client, sql: string, params: unknown[] = []): Promise<Record<string, unknown> | undefined> {
  try {
    return (await admin.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  }
}

/** waitFor, with `details` (say the processes' logs) read when it times out rather than when it starts. */
export async function waitWithLogs(what: string, details: () => string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<void> {
  try {
    await waitFor(what, check, timeoutMs, intervalMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${details()}`, { cause: err });
  }
}
