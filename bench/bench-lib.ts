// Shared by the benches: medians, the one-JSON-line-per-figure output, fresh
// databases on the throw-away cluster, and the commit-rate baseline that every
// bench prints next to its own figures (the machine is shared, so a figure
// only means something against a baseline taken in the same run).
import os from 'node:os';
import pg from 'pg';

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const emit = (figure: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
};

export const progress = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

/** `BENCH_QUICK=1`: smaller sizes and fewer repetitions, for a smoke run. */
export const QUICK = process.env.BENCH_QUICK === '1';

/**
 * A connected client on `url` that reports a dropped connection instead of
 * crashing the bench with an unhandled 'error' event (the cluster stops while
 * it is still open when a bench fails half-way).
 */
export async function connectClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', (err) => progress(`database connection: ${err.message}`));
  await client.connect();
  return client;
}

/** Creates database `name` through the admin connection and returns its URL. */
export async function createDatabase(admin: pg.Client, adminUrl: string, name: string): Promise<string> {
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Autocommit single-row inserts per second over `connections` connections,
 * in a database of its own: what the cluster can commit right now.
 */
export async function singleRowCommitRate(url: string, connections: number, perConnection = 2000): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS baseline_rows (id bigserial PRIMARY KEY, v text)');
    const start = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const c = await pool.connect();
        try {
          for (let i = 0; i < perConnection; i++) await c.query('INSERT INTO baseline_rows (v) VALUES ($1)', ['x']);
        } finally {
          c.release();
        }
      }),
    );
    return (perConnection * connections) / ((performance.now() - start) / 1000);
  } finally {
    await pool.end();
  }
}

/** Measures the baseline `runs` times on 1 and on 16 connections and emits both medians. */
export async function emitBaseline(admin: pg.Client, adminUrl: string, opts: { runs?: number; dbName?: string } = {}): Promise<{ commits1: number; commits16: number }> {
  const url = await createDatabase(admin, adminUrl, opts.dbName ?? 'bench_baseline');
  const runs = opts.runs ?? (QUICK ? 1 : 3);
  const one: number[] = [];
  const sixteen: number[] = [];
  for (let i = 0; i < runs; i++) {
    one.push(await singleRowCommitRate(url, 1));
    sixteen.push(await singleRowCommitRate(url, 16, 1000));
  }
  emit({ bench: 'baseline', figure: 'single_row_commits_per_s', connections: 1, median: Math.round(median(one)), runs: one.map(Math.round), cpus: os.availableParallelism(), loadavg: os.loadavg().map((l) => Number(l.toFixed(2))) });
  emit({ bench: 'baseline', figure: 'single_row_commits_per_s', connections: 16, median: Math.round(median(sixteen)), runs: sixteen.map(Math.round) });
  return { commits1: median(one), commits16: median(sixteen) };
}

/**
 * Runs `fn` at least `minRuns` and at most `maxRuns` times, stopping early once
 * `budgetMs` has passed, and returns the times in milliseconds.
 */
export async function timeRepeatedly(fn: () => Promise<void>, opts: { minRuns: number; maxRuns: number; budgetMs: number }): Promise<number[]> {
  const times: number[] = [];
  const deadline = performance.now() + opts.budgetMs;
  while (times.length < opts.maxRuns && (times.length < opts.minRuns || performance.now() < deadline)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}
