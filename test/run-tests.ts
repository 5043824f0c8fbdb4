// `npm test` entry point (after typecheck and lint): starts one PostgreSQL cluster for
// the whole run, runs every *.test.ts through `node --test`, then prints a summary.
//
//   node test/run-tests.ts                 every src/**/*.test.ts and test/**/*.test.ts
//   node test/run-tests.ts src/bmdb        only files under src/bmdb (a file or glob works too)
//   node test/run-tests.ts --test-name-pattern=backoff src/bmdb   options go to node --test
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_URL_ENV, UNAVAILABLE_ENV, postgresRequired, postgresUnavailableReason } from './pg.ts';
import { startPgCluster, type PgCluster } from './pg-cluster.ts';

const DEFAULT_PATTERNS = ['src/**/*.test.ts', 'test/**/*.test.ts'];

process.chdir(join(import.meta.dirname, '..'));

function testTargets(args: string[]): { options: string[]; files: string[] } {
  const options = args.filter((a) => a.startsWith('-'));
  const filters = args.filter((a) => !a.startsWith('-'));
  const files = filters.map((f) => {
    const dir = f.replace(/\/+$/, '');
    return existsSync(dir) && statSync(dir).isDirectory() ? `${dir}/**/*.test.ts` : f;
  });
  return { options, files: files.length > 0 ? files : DEFAULT_PATTERNS };
}

// Signals: remember them, pass them on to the test run, and clean up once it ends.
let interruptedBy: NodeJS.Signals | undefined;
const starting = new AbortController();
let child: ReturnType<typeof spawn> | undefined;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    interruptedBy ??= sig;
    starting.abort(new Error(`interrupted by ${sig}`));
    child?.kill(sig);
  });
}

let cluster: PgCluster | undefined;
process.once('exit', () => cluster?.stopSync()); // last resort if something below throws

async function preparePostgres(): Promise<NodeJS.ProcessEnv> {
  const env = { ...process.env };
  delete env[UNAVAILABLE_ENV];
  if (env[ADMIN_URL_ENV]) {
    console.log(`postgres: using ${ADMIN_URL_ENV} from the environment`);
    return env;
  }
  let reason = postgresUnavailableReason();
  if (reason === undefined) {
    const started = Date.now();
    try {
      cluster = await startPgCluster({ signal: starting.signal });
      console.log(`postgres: cluster on port ${cluster.port} (${cluster.dataDir}), ready in ${Date.now() - started} ms`);
      env[ADMIN_URL_ENV] = cluster.adminUrl;
      return env;
    } catch (err) {
      if (interruptedBy) throw err;
      reason = `PostgreSQL cluster could not start: ${(err as Error).message}`;
    }
  }
  if (postgresRequired()) {
    console.error(`postgres: ${reason}`);
    console.error('postgres: required because CI=true or BMAAS_REQUIRE_PG=1; not running tests');
    process.exit(1);
  }
  console.warn(`postgres: WARNING, [postgres] suites will be skipped: ${reason}`);
  env[UNAVAILABLE_ENV] = reason;
  return env;
}

function runTests(env: NodeJS.ProcessEnv, tapFile: string, args: string[]): Promise<number> {
  const { options, files } = testTargets(args);
  const argv = [
    '--test',
    '--test-concurrency=2',
    '--test-timeout=300000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...options,
    ...files,
  ];
  console.log(`running: node ${argv.join(' ')}`);
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, argv, { env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : sig === 'SIGHUP' ? 1 : 0;
}

function formatCounts(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
}

function printSummary(tapFile: string): void {
  let tap = '';
  try {
    tap = readFileSync(tapFile, 'utf8');
  } catch {
    console.log('\n(no test report was written)');
  }
  const summary = summarizeTap(tap);
  const lines = ['', '── summary ──'];
  if (summary.postgresSuites.length === 0) {
    lines.push('[postgres] suites: none ran');
  } else {
    lines.push('[postgres] suites:');
    for (const suite of summary.postgresSuites) {
      const note = suite.skipReason !== undefined ? ` (skipped: ${suite.skipReason || 'no reason given'})` : '';
      lines.push(`  ${suite.path.join(' > ')}: ${formatCounts(suite.counts)}${note}`);
    }
  }
  if (summary.failures.length > 0) {
    lines.push('failed:');
    for (const path of summary.failures) lines.push(`  ✖ ${path.join(' > ')}`);
  }
  if (interruptedBy) lines.push(`interrupted by ${interruptedBy}: the counts cover what finished`);
  lines.push(formatCounts(summary.totals));
  console.log(lines.join('\n'));
}

// ---- TAP summary -------------------------------------------------------------
// The spec reporter is for people; the TAP copy is parsed here for the summary.
// Nesting is by four spaces; a result line comes after its children, and its YAML
// block says whether it was a suite or a test.

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface SuiteSummary {
  path: string[];
  counts: Counts;
  skipReason: string | undefined;
}

interface TapSummary {
  totals: Counts;
  postgresSuites: SuiteSummary[];
  failures: string[][];
}

interface PendingResult {
  level: number;
  ok: boolean;
  name: string;
  directive: 'SKIP' | 'TODO' | undefined;
  reason: string;
  suite: boolean;
}

const zero = (): Counts => ({ passed: 0, failed: 0, skipped: 0 });
const add = (into: Counts, c: Counts): void => {
  into.passed += c.passed;
  into.failed += c.failed;
  into.skipped += c.skipped;
};
const unescapeTap = (s: string): string => s.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));

function summarizeTap(tap: string): TapSummary {
  const childCounts: Counts[] = []; // by level: what the results seen so far at that level add up to
  const names: string[] = []; // by level: the current "# Subtest:" name
  const postgresSuites: SuiteSummary[] = [];
  const failures: string[][] = [];
  let pending: PendingResult | undefined;

  const finish = (): void => {
    if (!pending) return;
    const r = pending;
    pending = undefined;
    const path = [...names.slice(0, r.level), r.name];
    const below = childCounts[r.level + 1] ?? zero();
    childCounts.length = r.level + 1;
    const counts = zero();
    if (r.suite) {
      add(counts, below);
      // A skipped suite never ran its body, so it stands in for its hidden tests.
      if (r.directive === 'SKIP' && below.passed + below.failed + below.skipped === 0) counts.skipped = 1;
      // A suite can fail on its own (a hook threw) with every test inside passing.
      if (!r.ok && r.directive === undefined && counts.failed === 0) {
        counts.failed = 1;
        failures.push(path);
      }
      if (r.name.startsWith('[postgres]')) {
        postgresSuites.push({ path, counts, skipReason: r.directive === 'SKIP' ? r.reason : undefined });
      }
    } else {
      add(counts, below); // subtests created with t.test()
      if (r.directive !== undefined) counts.skipped += 1;
      else if (r.ok) counts.passed += 1;
      else {
        counts.failed += 1;
        if (below.failed === 0) failures.push(path);
      }
    }
    add((childCounts[r.level] ??= zero()), counts);
  };

  for (const line of tap.split('\n')) {
    const indent = line.length - line.trimStart().length;
    const text = line.trimStart();
    const subtest = /^# Subtest: (.*)$/.exec(text);
    if (subtest && indent % 4 === 0) {
      finish();
      names.length = indent / 4;
      names.push(unescapeTap(subtest[1]!));
      continue;
    }
    const result = /^(ok|not ok) \d+ - ((?:\\.|[^\\#])*?)\s*(?:# (SKIP|TODO)\b\s*(.*))?$/i.exec(text);
    if (result && indent % 4 === 0) {
      finish();
      pending = {
        level: indent / 4,
        ok: result[1] === 'ok',
        name: unescapeTap(result[2]!),
        directive: result[3]?.toUpperCase() as 'SKIP' | 'TODO' | undefined,
        reason: unescapeTap(result[4] ?? ''),
        suite: false,
      };
      continue;
    }
    if (pending && indent === pending.level * 4 + 2) {
      if (text === "type: 'suite'") pending.suite = true;
      else if (text === '...') finish();
    }
  }
  finish();
  return { totals: childCounts[0] ?? zero(), postgresSuites, failures };
}

async function main(): Promise<number> {
  const tapFile = join(tmpdir(), `bmaas-tests-${process.pid}-${randomBytes(4).toString('hex')}.tap`);
  try {
    const env = await preparePostgres();
    if (interruptedBy) return 128 + signalNumber(interruptedBy);
    const code = await runTests(env, tapFile, process.argv.slice(2));
    printSummary(tapFile);
    if (interruptedBy) return 128 + signalNumber(interruptedBy);
    return code;
  } finally {
    rmSync(tapFile, { force: true });
    const running = cluster;
    cluster = undefined;
    await running?.stop().catch((err: unknown) => console.error(`postgres: ${(err as Error).message}`));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(interruptedBy ? `interrupted by ${interruptedBy}` : err);
    process.exit(interruptedBy ? 128 + signalNumber(interruptedBy) : 1);
  },
);
