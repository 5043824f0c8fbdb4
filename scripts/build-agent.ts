// npm run build:agent: the shippable agent, a Node single-executable
// application at dist/bmaas-agent that needs no Node.js on the target.
// Steps: bundle src/agent/main.ts into one CommonJS file, turn it into a SEA
// blob, inject the blob into a copy of the pinned Node binary.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';

// postject ships no type declarations: describe the one call we make.
const postject = createRequire(import.meta.url)('postject') as {
  inject(file: string, resourceName: string, data: Buffer, opts: { sentinelFuse: string }): Promise<void>;
};

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist');
// A work directory and temporary file of this build's own, so two builds at
// once (two test files finding no artifact) each finish a whole executable and
// the rename leaves one of them in place, never a half-written file.
mkdirSync(out, { recursive: true });
const work = mkdtempSync(path.join(out, 'agent-build-'));
const bundle = path.join(work, 'bmaas-agent.cjs');
const blob = path.join(work, 'sea-prep.blob');
const target = path.join(out, 'bmaas-agent');
const partial = path.join(work, 'bmaas-agent');
const pinnedNode = path.join(root, 'node_modules', 'node', 'bin', 'node');
// The fuse string Node looks for to know a blob was injected (Node's SEA docs).
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const started = Date.now();

// The work directory goes on every path, a failed step's included.
try {
  await build({
    entryPoints: [path.join(root, 'src', 'agent', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    outfile: bundle,
    define: { 'import.meta.main': 'false' },
    legalComments: 'none',
    logLevel: 'warning',
  });

  writeFileSync(
    path.join(work, 'sea-config.json'),
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true }),
  );
  execFileSync(pinnedNode, ['--experimental-sea-config', path.join(work, 'sea-config.json')], { stdio: 'inherit' });

  copyFileSync(pinnedNode, partial);
  chmodSync(partial, 0o755);
  // The pinned binary carries debug info; dropping it halves the artifact. Optional.
  try {
    execFileSync('strip', ['--strip-debug', partial], { stdio: 'ignore' });
  } catch {
    process.stderr.write('build-agent: strip not available, keeping debug info\n');
  }
  await postject.inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
  renameSync(partial, target);

  const mb = (statSync(target).size / 1024 / 1024).toFixed(1);
  process.stdout.write(`built ${path.relative(root, target)} (${mb} MiB, bundle ${(statSync(bundle).size / 1024).toFixed(0)} KiB) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
