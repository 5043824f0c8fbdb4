// npm run dev:host: this machine as a bmaas machine, for trying the shepherd
// by hand. Starts a private sshd on loopback (test harness) that accepts a
// generated client key, writes a one-entry device list for `--provider mini`
// and an agent wrapper that runs the built dist/bmaas-agent with its state in
// the host directory, installation requests only recorded and a reboot that
// only touches a file; then prints the `bmaas shepherd` command to run.
// Ctrl-C stops the sshd and the agent daemon the takeover left running.
//
//   npm run dev:host [-- --dir DIR] [--agent-endpoint HOST:PORT] [--ca-certificate PATH] [--heartbeat-interval DURATION]
import { access, chmod, constants, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILT_AGENT_PATH } from '../src/shepherd/index.ts';
import { PID_FILE } from '../src/agent/daemon.ts';
import { loadOrCreateSshKey } from '../src/shepherd/ssh/index.ts';
import { shellQuote } from '../src/shepherd/takeover.ts';
import { startSshd } from '../test/sshd.ts';
import { signalFromPidFile } from './pid-file.ts';
import { ScriptUsageError, parseScriptArgs } from './script-args.ts';
import { interruptSignal, untilAborted } from './until-interrupted.ts';

const USAGE = 'usage: npm run dev:host -- [--dir DIR] [--agent-endpoint HOST:PORT] [--ca-certificate PATH] [--heartbeat-interval DURATION]';

function options(argv: string[]) {
  const values = parseScriptArgs(
    argv,
    {
      dir: { type: 'string', default: '.bmaas/loopback-host' },
      'agent-endpoint': { type: 'string', default: '127.0.0.1:8080' },
      // Where `bmaas server --dev-certs` puts its CA by default.
      'ca-certificate': { type: 'string', default: '.bmaas/dev-certs/ca.der' },
      'heartbeat-interval': { type: 'string', default: '5s' },
    },
    USAGE,
  );
  return { dir: path.resolve(values.dir), endpoint: values['agent-endpoint'], ca: values['ca-certificate'], heartbeatInterval: values['heartbeat-interval'] };
}

/** Quoted for a POSIX shell only when it has to be, so the printed command reads well. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : shellQuote(text);
}

/** A path as the user would type it: relative when below the working directory. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  // The agent splits --reboot-command on whitespace.
  if (/\s/.test(opts.dir)) throw new ScriptUsageError(`--dir ${JSON.stringify(opts.dir)}: choose a directory without spaces`);
  try {
    await access(BUILT_AGENT_PATH, constants.X_OK);
  } catch {
    throw new ScriptUsageError(`${BUILT_AGENT_PATH} is missing: run \`npm run build:agent\` first`);
  }
  const interrupted = interruptSignal();

  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const stateDir = path.join(opts.dir, 'state');
  const keyPath = path.join(opts.dir, 'id_ed25519');
  const key = await loadOrCreateSshKey(keyPath, { signal: interrupted });
  const sshd = await startSshd({ authorizedKey: key.publicKeyOpenSsh, signal: interrupted });
  // Last resort should this process die some other way: no sshd left behind.
  process.once('exit', () => signalFromPidFile(path.join(sshd.dir, 'sshd.pid')));
  try {
    const devices = path.join(opts.dir, 'devices.json');
    await writeFile(devices, `${JSON.stringify([{ ID: 'loopback-1', Addr: sshd.addresses[0], Location: 'loopback' }], null, 2)}\n`);
    // Uploaded by the shepherd and run over SSH as the takeover. It stays on
    // this machine's file system, so it can exec the artifact in place.
    const wrapper = path.join(opts.dir, 'agent.sh');
    const agentArgs = [
      'takeover',
      '--state-dir', stateDir,
      '--test-installer-log', path.join(opts.dir, 'installs.jsonl'),
      '--reboot-command', `touch ${path.join(opts.dir, 'rebooted')}`,
      '--heartbeat-interval', opts.heartbeatInterval,
    ];
    await writeFile(wrapper, `#!/bin/sh\n# written by npm run dev:host\nexec ${[BUILT_AGENT_PATH, ...agentArgs].map(shellWord).join(' ')} "$@"\n`);
    await chmod(wrapper, 0o755);

    const command = [
      'npx bmaas shepherd --provider mini',
      `--mini-device-list ${shellWord(shown(devices))}`,
      `--agent-executable-path ${shellWord(shown(wrapper))}`,
      // Absolute: over SSH a relative path would start from the login's home.
      `--agent-target-path ${shellWord(path.join(opts.dir, 'uploaded-agent.sh'))}`,
      `--agent-endpoint ${shellWord(opts.endpoint)}`,
      `--agent-endpoint-ca-certificate-path ${shellWord(opts.ca)}`,
      `--ssh-user ${shellWord(sshd.user)}`,
      `--ssh-key-path ${shellWord(shown(keyPath))}`,
    ];
    process.stdout.write(
      [
        `loopback host: sshd on ${sshd.addresses[0]} (user ${sshd.user}, host key ${sshd.hostKeyFingerprint})`,
        `  device list ${shown(devices)}, agent wrapper ${shown(wrapper)} (state in ${shown(stateDir)}, agent log ${shown(path.join(stateDir, 'agent.log'))})`,
        'take it over with (BMAAS_BMDB_URL set, as for the server):',
        `  ${command.join(' \\\n    ')}`,
        'a Redfish BMC for it, written into the device list: npm run dev:bmc (README: Trying it without a BMC)',
        'Ctrl-C stops the sshd and the agent daemon.',
        '',
      ].join('\n'),
    );
    await untilAborted(interrupted);
  } finally {
    await sshd.stop();
    // The takeover left the daemon detached, in a session of its own.
    const pid = signalFromPidFile(path.join(stateDir, PID_FILE));
    process.stdout.write(`loopback host stopped${pid ? ` (agent daemon ${pid} terminated)` : ''}.\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`loopback-host: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof ScriptUsageError ? 2 : 1;
});
