import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { envName, parseFlags, UsageError, type FlagSpec } from './flags.ts';

const SPECS: readonly FlagSpec[] = [
  { name: 'listen-address', type: 'string', default: '127.0.0.1:8080', description: 'where' },
  { name: 'workers', type: 'int', default: 4, min: 1, max: 1000, description: 'how many' },
  { name: 'grace', type: 'duration', default: 5000, min: 0, max: 3_600_000, description: 'how long' },
  { name: 'dry-run', type: 'boolean', description: 'do nothing' },
  { name: 'tag', type: 'string', multiple: true, description: 'several' },
  { name: 'db-url', type: 'string', secret: true, description: 'secret' },
  { name: 'state-dir', type: 'string', env: 'BMAAS_AGENT_STATE_DIR', description: 'own env name' },
];

const dir = mkdtempSync(join(tmpdir(), 'bmaas-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string): string {
  const path = join(dir, `f${++files}`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

describe('flags from the environment and a config file', () => {
  it('derives BMAAS_<NAME> unless the flag names its own variable', () => {
    assert.equal(envName(SPECS[0]!), 'BMAAS_LISTEN_ADDRESS');
    assert.equal(envName(SPECS[6]!), 'BMAAS_AGENT_STATE_DIR');
    const f = parseFlags(SPECS, [], { env: { BMAAS_WORKERS: '7', BMAAS_DRY_RUN: 'true', BMAAS_AGENT_STATE_DIR: '/s', BMAAS_STATE_DIR: '/ignored' } });
    assert.equal(f.number('workers'), 7);
    assert.equal(f.boolean('dry-run'), true);
    assert.equal(f.string('state-dir'), '/s');
    assert.equal(f.given('workers'), true);
  });

  it('applies the precedence flag > env > config > default, with comments and quoted values', () => {
    const config = file(['# a comment', '', 'workers = 9', 'grace = 2s', 'listen-address = "  spaced  "', 'tag = a', 'tag = b', '  # indented comment'].join('\n'));
    const fromFile = parseFlags(SPECS, ['--config', config], { env: {} });
    assert.equal(fromFile.number('workers'), 9);
    assert.equal(fromFile.number('grace'), 2000);
    assert.equal(fromFile.string('listen-address'), '  spaced  ');
    assert.deepEqual(fromFile.strings('tag'), ['a', 'b']);
    const envWins = parseFlags(SPECS, [], { env: { BMAAS_CONFIG: config, BMAAS_WORKERS: '8' } });
    assert.equal(envWins.number('workers'), 8);
    assert.equal(envWins.number('grace'), 2000);
    const flagWins = parseFlags(SPECS, ['--config', config, '--workers', '3'], { env: { BMAAS_WORKERS: '8' } });
    assert.equal(flagWins.number('workers'), 3);
    assert.equal(parseFlags(SPECS, [], { env: {} }).number('workers'), 4);
  });

  it('refuses unknown keys, repeated keys and out-of-bounds values, naming the line', () => {
    const bad = (text: string, re: RegExp) => assert.throws(() => parseFlags(SPECS, ['--config', file(text)], { env: {} }), (err: unknown) => err instanceof UsageError && re.test(err.message));
    bad('workers = 2\nlisten-adress = x', /:2: unknown key "listen-adress"/);
    bad('workers = 2\nworkers = 3', /:2: workers is set twice \(also at .*:1\)/);
    bad('# x\nworkers = 0', /:2: invalid value for --workers: must be 1 to 1000, got 0/);
    bad('just words', /:1: expected key = value/);
    assert.throws(() => parseFlags(SPECS, ['--config', join(dir, 'missing')], { env: {} }), /cannot read config file .*missing: ENOENT/);
    assert.throws(() => parseFlags(SPECS, [], { env: { BMAAS_WORKERS: 'many' } }), /invalid value for --workers: .* \(from BMAAS_WORKERS\)/);
  });

  it('reads a secret flag from a file by flag, environment or config key, never two at once', () => {
    const secret = file('postgres://u:pw@db/x\n');
    assert.equal(parseFlags(SPECS, ['--db-url-file', secret], { env: {} }).string('db-url'), 'postgres://u:pw@db/x');
    assert.equal(parseFlags(SPECS, [], { env: { BMAAS_DB_URL_FILE: secret } }).string('db-url'), 'postgres://u:pw@db/x');
    assert.equal(parseFlags(SPECS, ['--config', file(`db-url-file = ${secret}`)], { env: {} }).string('db-url'), 'postgres://u:pw@db/x');
    assert.throws(() => parseFlags(SPECS, ['--db-url', 'x', '--db-url-file', secret], { env: {} }), /give the value or the file, not both/);
    assert.throws(() => parseFlags(SPECS, ['--db-url-file', join(dir, 'nope')], { env: {} }), /cannot read --db-url-file .*nope: ENOENT/);
    // Only secret flags have the variant.
    assert.throws(() => parseFlags(SPECS, ['--listen-address-file', secret], { env: {} }), UsageError);
  });
});
