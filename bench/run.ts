// `npm run bench`: runs every bench/*.bench.ts in turn. Each prints one JSON
// line per figure on stdout; progress goes to stderr. `npm run bench -- NAME…`
// runs the files whose name contains one of the NAMEs. Slow benches
// (*.slow.bench.ts, minutes each) run only when named or with BENCH_SLOW=1.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => (only.length === 0 ? !f.endsWith('.slow.bench.ts') || process.env.BENCH_SLOW === '1' : only.some((o) => f.includes(o))))
  .sort();
if (only.length === 0 && process.env.BENCH_SLOW !== '1') process.stderr.write('bench: skipping *.slow.bench.ts (name them, or BENCH_SLOW=1)\n');
let failed = 0;
for (const f of files) {
  process.stderr.write(`bench: ${f}\n`);
  const r = spawnSync(process.execPath, [path.join(import.meta.dirname, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${f} exited with ${r.status ?? r.signal}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
