#!/usr/bin/env node
// Entry point of the `bmaas` command. In the repository the TypeScript
// sources run directly through Node's type stripping, which needs Node 24 or
// newer: say so plainly rather than failing on the first type annotation.
// Installed from the packed tarball (under node_modules, where Node will not
// strip types), it runs dist/bmaas.js, the bundle `npm pack` builds
// (scripts/build-cli.ts).
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`bmaas needs Node.js 24 or newer (this is ${process.version}); run it through npm (npx bmaas, npm start) to use the project's pinned Node.\n`);
  process.exit(1);
}
const bundle = join(import.meta.dirname, '..', 'dist', 'bmaas.js');
const installed = import.meta.dirname.includes(`${sep}node_modules${sep}`);
const { main } = installed && existsSync(bundle) ? await import(bundle) : await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
