#!/usr/bin/env node
// Entry point of the `bmaas` command. The sources are TypeScript run directly by
// Node's type stripping, which needs Node 24 or newer: say so plainly rather than
// failing on the first type annotation.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`bmaas needs Node.js 24 or newer (this is ${process.version}); run it through npm (npx bmaas, npm start) to use the project's pinned Node.\n`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
