// `npm pack` (prepack): the `bmaas` command as one JavaScript file,
// dist/bmaas.js. Node refuses to strip types from files under node_modules
// (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), so an installed package cannot
// run src/**/*.ts; bin/bmaas.js runs this bundle there instead. Dependencies
// stay external (installed next to it as usual). The sources still ship: the
// migrations' .sql files are read from src/bmdb/migrations, so each bundled
// file's import.meta.dirname / import.meta.url is pointed back at where that
// file lives in the package.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const outfile = path.join(root, 'dist', 'bmaas.js');

const sourceLocation: Plugin = {
  name: 'source-location',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const fromDist = path.relative(path.dirname(outfile), args.path).split(path.sep).join('/');
      const contents = text
        .replaceAll('import.meta.dirname', `__bmaasPath.join(import.meta.dirname, ${JSON.stringify(path.dirname(fromDist))})`)
        .replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`)
        .replaceAll('import.meta.main', 'false');
      return { contents, loader: 'ts' };
    });
  },
};

const started = Date.now();
await build({
  entryPoints: [path.join(root, 'src', 'cli', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  packages: 'external',
  outfile,
  banner: { js: "import __bmaasPath from 'node:path';" },
  plugins: [sourceLocation],
  legalComments: 'none',
  logLevel: 'warning',
});
process.stdout.write(`built ${path.relative(root, outfile)} in ${Date.now() - started} ms\n`);
