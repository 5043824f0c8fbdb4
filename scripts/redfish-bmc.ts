// npm run dev:bmc: a Redfish BMC on loopback for the host of `npm run dev:host`,
// so the shepherd's recoverer can be tried without a real BMC. It is the
// simulated fleet's fake BMC (src/sim): HTTPS with a certificate from a CA made
// at start (DIR/ca.pem), one system, a user with a random password written 0600
// to DIR/bmc-password, and resets accepted at once and applied later (off
// after --reset-delay, on again --off-for later), as real BMCs do.
//
// Power going off stands for the host losing power: the agent daemon whose id
// is in HOST_DIR/state/agent.pid is killed (SIGKILL, so it neither heartbeats
// nor cleans up). The sshd stays up, since this computer does not really
// restart; the host is back the moment the BMC shows On. The BMC object is
// written into HOST_DIR/devices.json (the entry --machine, by default the only
// one) and printed. Every request is logged on stdout, each reset with its
// ResetType and answer, and each power change; never a password or header.
//
//   npm run dev:bmc [-- --dir DIR] [--listen 127.0.0.1:PORT] [--username NAME] [--host-dir DIR] [--machine ID] [--reset-delay DURATION] [--off-for DURATION]
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PID_FILE } from '../src/agent/daemon.ts';
import { parseDuration } from '../src/lib/index.ts';
import { createBmcCertificate, FakeRedfishBmc } from '../src/sim/index.ts';
import { signalFromPidFile } from './pid-file.ts';
import { ScriptUsageError, parseScriptArgs } from './script-args.ts';
import { interruptSignal, untilAborted } from './until-interrupted.ts';

const USAGE =
  'usage: npm run dev:bmc -- [--dir DIR] [--listen 127.0.0.1:PORT] [--username NAME] [--host-dir DIR] [--machine ID] [--reset-delay DURATION] [--off-for DURATION]';

/** The fake BMC's one system. */
const SYSTEM_ID = '1';

function options(argv: string[]) {
  const v = parseScriptArgs(
    argv,
    {
      dir: { type: 'string', default: '.bmaas/loopback-bmc' },
      // Port 0: a free one, chosen at start.
      listen: { type: 'string', default: '127.0.0.1:0' },
      username: { type: 'string', default: 'admin' },
      'host-dir': { type: 'string', default: '.bmaas/loopback-host' },
      machine: { type: 'string' },
      'reset-delay': { type: 'string', default: '1s' },
      'off-for': { type: 'string', default: '2s' },
    },
    USAGE,
  );
  const listen = /^127\.0\.0\.1:(\d{1,5})$/.exec(v.listen);
  if (!listen || Number(listen[1]) > 65535) throw new ScriptUsageError(`--listen ${JSON.stringify(v.listen)}: give 127.0.0.1:PORT (the BMC serves loopback only)`);
  if (!/^[\w.@-]{1,64}$/.test(v.username)) throw new ScriptUsageError(`--username ${JSON.stringify(v.username)}: use letters, digits, and . _ @ -`);
  const duration = (flag: string, text: string): number => {
    try {
      return parseDuration(text, { minMs: 0, maxMs: 60_000 });
    } catch (err) {
      throw new ScriptUsageError(`--${flag}: ${(err as Error).message}`);
    }
  };
  return {
    dir: path.resolve(v.dir),
    port: Number(listen[1]),
    username: v.username,
    hostDir: path.resolve(v['host-dir']),
    machine: v.machine,
    resetDelayMs: duration('reset-delay', v['reset-delay']),
    offMs: duration('off-for', v['off-for']),
  };
}

/** A fresh random password in a 0600 file (one line), made at every start. */
async function writePasswordFile(file: string): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  await rm(file, { force: true });
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

/**
 * Sets `BMC` on one entry of the device list (replaced atomically, so a
 * shepherd re-reading it on SIGHUP never sees half a file); returns its ID.
 */
async function addToDeviceList(file: string, machine: string | undefined, bmc: object): Promise<string> {
  const entries = JSON.parse(await readFile(file, 'utf8')) as unknown;
  if (!Array.isArray(entries)) throw new ScriptUsageError(`${file} is not a JSON array`);
  const list = entries as Array<Record<string, unknown>>;
  const entry = machine === undefined ? (list.length === 1 ? list[0] : undefined) : list.find((e) => e['ID'] === machine);
  if (!entry) throw new ScriptUsageError(machine === undefined ? `${file} has ${list.length} entries: name one with --machine ID` : `${file} has no entry ${JSON.stringify(machine)}`);
  entry['BMC'] = bmc;
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(list, null, 2)}\n`);
  await rename(tmp, file);
  return String(entry['ID']);
}

/** The host losing power: its agent daemon dies on the spot. */
function killAgentDaemon(pidFile: string): string {
  const pid = signalFromPidFile(pidFile, 'SIGKILL');
  if (pid === undefined) return 'no agent daemon was running';
  // A killed daemon leaves its pid file; drop it so a later power-off cannot hit a reused pid.
  void rm(pidFile, { force: true });
  return `agent daemon ${pid} killed`;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()}  ${line}\n`);
}

/**
 * Prints what the BMC received since the last call: its requests in order,
 * then each reset with the answer it got. Returns the printer to call again.
 */
function requestLogger(bmc: FakeRedfishBmc): () => void {
  let requests = 0;
  const answered = new Map<string, number>();
  return () => {
    for (; requests < bmc.requests.length; requests++) log(`request ${bmc.requests[requests]}`);
    for (const r of bmc.resetCounts()) {
      const key = `${r.resetType} ${r.status}`;
      for (let n = answered.get(key) ?? 0; n < r.count; n++) {
        log(`Reset ResetType=${r.resetType} system ${SYSTEM_ID}: ${r.status < 300 ? `accepted (${r.status})` : `refused (${r.status})`}`);
      }
      answered.set(key, r.count);
    }
  };
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const interrupted = interruptSignal();
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(opts.dir, 'bmc-password');
  const caFile = path.join(opts.dir, 'ca.pem');
  const agentPidFile = path.join(opts.hostDir, 'state', PID_FILE);

  const certificate = await createBmcCertificate('loopback Redfish BMC');
  await writeFile(caFile, certificate.caPem);
  const bmc = new FakeRedfishBmc({
    username: opts.username,
    password: await writePasswordFile(passwordFile),
    certificate,
    systems: [SYSTEM_ID],
    resetDelayMs: opts.resetDelayMs,
    offMs: opts.offMs,
    onPowerOff: () => log(`power Off: ${killAgentDaemon(agentPidFile)}`),
    onPowerOn: () => log('power On'),
  });
  await bmc.start(opts.port);
  const printNew = requestLogger(bmc);
  const printer = setInterval(printNew, 100);
  try {
    const entry = {
      Driver: 'redfish',
      Endpoint: bmc.endpoint,
      System: `/redfish/v1/Systems/${SYSTEM_ID}`,
      Username: opts.username,
      PasswordFile: passwordFile,
      TLS: { CACertificate: caFile },
    };
    const deviceList = path.join(opts.hostDir, 'devices.json');
    const lines = [`loopback Redfish BMC on ${bmc.endpoint} (user ${opts.username}, password in ${passwordFile}, CA ${caFile})`];
    lines.push(`  certificate fingerprint ${certificate.fingerprint} (for "TLS": { "Fingerprint": … } instead of the CA)`);
    lines.push(`  a reset powers off after ${opts.resetDelayMs} ms and on again ${opts.offMs} ms later; power off kills the agent daemon of ${agentPidFile}`);
    if (existsSync(deviceList)) {
      const id = await addToDeviceList(deviceList, opts.machine, entry);
      lines.push(`  added as the BMC of ${id} in ${deviceList} (a running shepherd picks it up on SIGHUP)`);
    } else {
      lines.push(`  no ${deviceList} (start npm run dev:host first, or give --host-dir); the entry's "BMC" to paste:`);
    }
    lines.push(`  "BMC": ${JSON.stringify(entry)}`, 'Ctrl-C stops it. Requests received:', '');
    process.stdout.write(lines.join('\n'));
    await untilAborted(interrupted);
  } finally {
    clearInterval(printer);
    printNew();
    await bmc.stop();
    process.stdout.write('loopback Redfish BMC stopped.\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`redfish-bmc: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof ScriptUsageError ? 2 : 1;
});
