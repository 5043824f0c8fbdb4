// Every command refuses absurd numbers, stray arguments and flags it does not
// have, with exit code 2 and one line naming the flag, before it starts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runBmaas } from '../shepherd/testing/index.ts';
import { COMMANDS } from './main.ts';

describe('flag bounds', () => {
  it('every numeric default lies within its own bounds', () => {
    for (const cmd of COMMANDS) {
      for (const f of cmd.flags) {
        if ((f.type === 'int' || f.type === 'float' || f.type === 'duration') && f.default !== undefined) {
          assert.ok(f.default >= f.min && f.default <= f.max, `bmaas ${cmd.name} --${f.name}: default ${f.default} outside ${f.min}..${f.max}`);
        }
      }
    }
  });

  const refused: Array<[string[], RegExp]> = [
    [['server', '--call-timeout', '0'], /--call-timeout: must be 1ms to 10m, got 0/],
    [['server', '--call-timeout', '-1s'], /--call-timeout: must be 1ms to 10m, got -1s/],
    [['server', '--shutdown-grace', '1000h'], /--shutdown-grace: must be 0 to 1h, got 1000h/],
    [['server', 'stray'], /unexpected argument "stray"/],
    [['shepherd', 'stray'], /unexpected argument "stray"/],
    [['shepherd', '--agent-ssh-connect-timeout', '0'], /--agent-ssh-connect-timeout: must be/],
    [['shepherd', '--initializer-loop-parallelism', '1001'], /--initializer-loop-parallelism: must be 1 to 1000/],
    [['webug', '--refresh', '0'], /--refresh: must be 500ms to 1h, got 0/],
    [['agent', 'run', '--heartbeat-interval', '600h'], /--heartbeat-interval: must be 1ms to 1h, got 600h/],
    [['migrate', 'up', 'down'], /unexpected argument "down"/],
  ];
  for (const [args, message] of refused) {
    it(`bmaas ${args.join(' ')} is a usage error`, async () => {
      const r = await runBmaas(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('shows the bounds in --help', async () => {
    const r = await runBmaas(['shepherd', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /how many agents the initializer starts at once \(default 1; 1 to 1000\)/);
  });
});

describe('bmaas dev', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bmaas-dev-flags-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('off loopback, asks for a --webug-token it has; tightens a loose data directory and log', { timeout: 60_000 }, async () => {
    mkdirSync(path.join(dir, 'bmdb'), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(dir, 'dev.log'), '', { mode: 0o644 });
    const r = await runBmaas(['dev', '--data-dir', dir, '--machines', '1', '--webug-listen-address', '0.0.0.0:0'], { timeoutMs: 50_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--webug-token/);
    const help = await runBmaas(['dev', '--help']);
    assert.match(help.stdout, /--webug-token TOKEN/);
    const mode = (p: string) => statSync(path.join(dir, p)).mode & 0o777;
    assert.equal(mode('.'), 0o700);
    assert.equal(mode('bmdb'), 0o700);
    assert.equal(mode('dev.log'), 0o600);
  });
});
