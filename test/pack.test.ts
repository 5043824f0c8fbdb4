// `npm pack` makes a tarball that installs a working `bmaas` command on a
// machine that has only Node.js 24: packed here, installed into an empty
// prefix (runtime dependencies from the npm cache, or the registry when the
// cache lacks them), and run from <prefix>/node_modules/.bin with this Node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

describe('the packed tarball', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs into an empty prefix and runs bmaas --help and migrate status', { timeout: 90_000 }, async () => {
    const started = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'bmaas-pack-'));
    // npm's scripts (prepack) run on the pinned Node: put it first on PATH.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, env, timeout: 60_000 });
    const tarball = join(dir, packed.stdout.trim().split('\n').at(-1)!);
    const prefix = join(dir, 'prefix');
    const files = (await run('tar', ['-tzf', tarball])).stdout.split('\n');
    assert.ok(files.includes('package/dist/bmaas.js'), 'the bundle is packed');
    assert.ok(files.includes('package/src/bmdb/migrations/0001_initial.up.sql'), 'the migrations are packed');
    assert.deepEqual(files.filter((f) => f.endsWith('.test.ts')), [], 'no tests are packed');
    const packedAt = Date.now();

    await run('npm', ['install', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=dev', tarball], { env, timeout: 80_000 });
    assert.ok((await readdir(join(prefix, 'node_modules'))).includes('bmaas'));
    const installedAt = Date.now();

    // The bin under node_modules, started by the Node under test (no type stripping there).
    const bmaas = join(prefix, 'node_modules', '.bin', 'bmaas');
    const help = await run(process.execPath, [bmaas, '--help'], { env, timeout: 20_000 });
    assert.match(help.stdout, /Usage: bmaas <command>/);
    const status = await run(process.execPath, [bmaas, 'migrate', 'status', '--bmdb-url', 'pglite://memory', '--log-level', 'warn'], { env, timeout: 30_000 });
    assert.match(status.stdout, /schema version: 0 \(this build knows up to \d+\)/, status.stdout);
    assert.match(status.stdout, /pending +0001_initial/);
    process.stderr.write(
      `pack: npm pack ${packedAt - started} ms, npm install ${installedAt - packedAt} ms, both commands ${Date.now() - installedAt} ms\n`,
    );
  });
});
