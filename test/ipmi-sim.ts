// A real IPMI BMC for tests: OpenIPMI's `ipmi_sim` (Debian package openipmi) on a
// free loopback UDP port, with one admin user, in a temp dir of its own. Chassis
// power is kept by a small hook script ipmi_sim calls (`chassis_control`), which
// stores the state in a file and logs every request, so a test can see what the
// BMC was asked to do.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const IPMI_SIM = '/usr/bin/ipmi_sim';
const IPMITOOL = '/usr/bin/ipmitool';
const MISSING = `ipmi_sim and ipmitool are needed (apt-get install openipmi ipmitool; looked for ${IPMI_SIM}, ${IPMITOOL})`;
const READY_TIMEOUT_MS = 15_000;

export interface IpmiSim extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** `host:port`, what a BMC entry's Endpoint holds. */
  readonly endpoint: string;
  readonly username: string;
  readonly password: string;
  readonly dir: string;
  /** The chassis requests ipmi_sim passed to the hook, e.g. `get power`, `set power 0`, `set reset 1`. */
  chassisLog(): Promise<string[]>;
  stop(): Promise<void>;
}

function installed(): boolean {
  try {
    accessSync(IPMI_SIM, constants.X_OK);
    accessSync(IPMITOOL, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** CI gets a failure, not a skip, when ipmi_sim is missing. */
export function ipmiSimRequired(): boolean {
  return process.env.CI === 'true' || process.env.BMAAS_REQUIRE_IPMI === '1';
}

/** `describe` for suites that need ipmi_sim, named `[ipmi_sim] <name>`; skipped without it, failed under CI. */
export function describeIpmiSim(name: string, fn: () => void): void {
  const title = `[ipmi_sim] ${name}`;
  if (installed()) {
    void describe(title, fn);
  } else if (ipmiSimRequired()) {
    void describe(title, () => {
      void it('has ipmi_sim available', () => {
        assert.fail(`${MISSING}; required because CI=true or BMAAS_REQUIRE_IPMI=1`);
      });
    });
  } else {
    void describe(title, { skip: MISSING }, fn);
  }
}

async function freeUdpPort(host: string): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, host);
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

// `chassis_control` program: `<hook> get power` prints `power:<0|1>`; `<hook> set power 0`,
// `set reset 1`, `set shutdown 1` change it. A soft shutdown powers off, as an OS would.
const HOOK = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/chassis.log"
case "$1" in
  get) printf 'power:%s\\n' "$(cat "$dir/power")" ;;
  set) shift
    while [ $# -gt 1 ]; do
      case "$1" in
        power) echo "$2" > "$dir/power" ;;
        shutdown) echo 0 > "$dir/power" ;;
      esac
      shift 2
    done ;;
esac
`;

export async function startIpmiSim(opts: { signal?: AbortSignal } = {}): Promise<IpmiSim> {
  if (!installed()) throw new Error(MISSING);
  const host = '127.0.0.1';
  const username = 'bmcadmin';
  const password = `pw-${Math.random().toString(36).slice(2, 12)}`;
  const dir = await mkdtemp(join(tmpdir(), 'bmaas-ipmi-sim-'));
  await chmod(dir, 0o700);
  await mkdir(join(dir, 'state'));
  const port = await freeUdpPort(host);
  const hook = join(dir, 'chassis-hook.sh');
  await writeFile(hook, HOOK, { mode: 0o700 });
  await writeFile(join(dir, 'power'), '1\n');
  await writeFile(join(dir, 'chassis.log'), '');
  await writeFile(
    join(dir, 'lan.conf'),
    [
      'name "bmaastest"',
      'set_working_mc 0x20',
      'startlan 1',
      `  addr ${host} ${port}`,
      '  priv_limit admin',
      '  allowed_auths_callback md5',
      '  allowed_auths_user md5',
      '  allowed_auths_operator md5',
      '  allowed_auths_admin md5',
      '  guid a123456789abcdefa123456789abcdef',
      'endlan',
      `chassis_control "${hook}"`,
      `user 2 true "${username}" "${password}" admin 10 md5`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await writeFile(join(dir, 'bmc.emu'), ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr', 'mc_enable 0x20', ''].join('\n'));

  const child: ChildProcess = spawn(IPMI_SIM, ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = once(child, 'exit');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready once it answers a real RMCP+ request.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`ipmi_sim exited with ${child.exitCode}: ${output}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      execFile(IPMITOOL, ['-I', 'lanplus', '-C', '3', '-H', host, '-p', String(port), '-U', username, '-E', '-N', '1', '-R', '1', 'chassis', 'power', 'status'], { env: { ...process.env, IPMI_PASSWORD: password }, timeout: 5000 }, (err) => resolve(!err));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ipmi_sim on ${host}:${port} did not answer within ${READY_TIMEOUT_MS} ms: ${output}`);
    }
    await sleep(200);
  }
  await writeFile(join(dir, 'chassis.log'), '');

  return {
    host,
    port,
    endpoint: `${host}:${port}`,
    username,
    password,
    dir,
    chassisLog: async () => (await readFile(join(dir, 'chassis.log'), 'utf8')).split('\n').filter((l) => l !== ''),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
