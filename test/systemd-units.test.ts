// The shipped systemd units (deploy/systemd/) checked without systemd: each
// starts a real `bmaas` command, every BMAAS_* variable it sets names a flag
// that command has (the environment maps BMAAS_FOO_BAR to --foo-bar), and the
// hardening and the graceful stop the deployment guide promises are present.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.join(import.meta.dirname, '..');
const UNITS = path.join(ROOT, 'deploy', 'systemd');

/** `[Service]` keys of a unit file; repeated keys keep every value. */
function serviceKeys(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not a key=value line: ${line}`);
    const key = line.slice(0, eq);
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}

function helpOf(command: string): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), command, '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const REQUIRED: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  KillSignal: 'SIGTERM',
};

void describe('systemd units', () => {
  const units = readdirSync(UNITS).filter((f) => f.endsWith('.service')).sort();

  void it('ships one unit per long-running component', () => {
    assert.deepEqual(units, ['bmaas-scruffy.service', 'bmaas-server.service', 'bmaas-shepherd.service', 'bmaas-webug.service']);
  });

  for (const unit of units) {
    void it(`${unit}: runs its command, sets only real flags, is hardened and stops gracefully`, () => {
      const keys = serviceKeys(readFileSync(path.join(UNITS, unit), 'utf8'));
      const [exec] = keys.get('ExecStart') ?? [];
      const m = /^\/usr\/local\/bin\/bmaas (\w+)$/.exec(exec ?? '');
      assert.ok(m, `ExecStart runs one bmaas command: ${exec}`);
      const command = m[1]!;
      assert.equal(`bmaas-${command}.service`, unit);
      const help = helpOf(command);
      for (const env of keys.get('Environment') ?? []) {
        const name = /^BMAAS_([A-Z0-9_]+)=/.exec(env)?.[1];
        assert.ok(name, `Environment sets a BMAAS_ variable: ${env}`);
        const flag = `--${name.toLowerCase().replaceAll('_', '-')}`;
        assert.match(help, new RegExp(`${flag}\\b`), `${unit}: BMAAS_${name} has no ${flag} in \`bmaas ${command} --help\``);
      }
      for (const [key, value] of Object.entries(REQUIRED)) assert.deepEqual(keys.get(key), [value], `${unit}: ${key}=${value}`);
      assert.ok(keys.get('DynamicUser')?.[0] === 'yes' || keys.has('User'), `${unit}: DynamicUser=yes or a dedicated User`);
      assert.ok(keys.has('TimeoutStopSec'), `${unit}: a bounded stop (TimeoutStopSec)`);
      // The database URL holds a password: a credential file, never a plain variable.
      assert.ok(!(keys.get('Environment') ?? []).some((e) => e.startsWith('BMAAS_BMDB_URL=')), `${unit}: the BMDB URL comes from a credential file`);
    });
  }
});
