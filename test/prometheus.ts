// A real Prometheus for tests (Debian's `prometheus` package, which brings
// promtool too): generated config, temp storage, loopback port, and the HTTP
// query API. Missing binaries skip the suites locally and fail them in CI.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const DIRS = ['/usr/bin', '/usr/local/bin'];
const READY_TIMEOUT_MS = 60_000;

/** The path of `name` (prometheus or promtool), or undefined when it is not installed. */
export function findPrometheusBinary(name: 'prometheus' | 'promtool'): string | undefined {
  return DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** CI (and .ci/run, which sets BMAAS_REQUIRE_PG=1 for every system dependency) fails instead of skipping. */
export function prometheusRequired(): boolean {
  return process.env.CI === 'true' || process.env.BMAAS_REQUIRE_PG === '1' || process.env.BMAAS_REQUIRE_PROMETHEUS === '1';
}

/** `describe` for suites that need prometheus and promtool, named `[prometheus] <name>`. */
export function describePrometheus(name: string, fn: () => void): void {
  const title = `[prometheus] ${name}`;
  const missing = (['prometheus', 'promtool'] as const).filter((b) => !findPrometheusBinary(b));
  if (missing.length === 0) {
    void describe(title, fn);
    return;
  }
  const reason = `${missing.join(' and ')} not found in ${DIRS.join(', ')} (apt-get install prometheus)`;
  if (prometheusRequired()) {
    void describe(title, () => {
      void it('has prometheus and promtool installed', () => assert.fail(`${reason}; required because CI=true or BMAAS_REQUIRE_PG=1 or BMAAS_REQUIRE_PROMETHEUS=1`));
    });
  } else {
    void describe(title, { skip: reason }, fn);
  }
}

/** Runs promtool with `args`; resolves with its exit code and output. */
export async function runPromtool(args: readonly string[], opts: { cwd?: string; signal?: AbortSignal } = {}): Promise<{ code: number; output: string }> {
  const child = spawn(findPrometheusBinary('promtool')!, args, { cwd: opts.cwd, signal: opts.signal, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code: code ?? 1, output };
}

export interface StartPrometheusOptions {
  /** host:port targets scraped on /metrics as job `bmaas`. */
  readonly targets: readonly string[];
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: readonly string[];
  readonly scrapeIntervalSeconds?: number;
  readonly signal?: AbortSignal;
}

export interface QuerySample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface Prometheus extends AsyncDisposable {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** An instant PromQL query through /api/v1/query. */
  query(expr: string, opts?: { signal?: AbortSignal }): Promise<QuerySample[]>;
  stop(): Promise<void>;
}

/** Asks the kernel for a loopback port that is free now; Prometheus binds it a moment later. */
async function freeLoopbackPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function config(o: StartPrometheusOptions): string {
  const interval = `${o.scrapeIntervalSeconds ?? 1}s`;
  const lines = ['global:', `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`];
  if (o.ruleFiles?.length) lines.push('rule_files:', ...o.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`));
  lines.push('scrape_configs:', '  - job_name: bmaas', '    static_configs:', `      - targets: ${JSON.stringify(o.targets)}`);
  return `${lines.join('\n')}\n`;
}

/** Starts Prometheus and resolves once /-/ready answers 200. */
export async function startPrometheus(o: StartPrometheusOptions): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'bmaas-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, config(o));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    findPrometheusBinary('prometheus')!,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    o.signal?.throwIfAborted();
    if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}: ${log}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within ${READY_TIMEOUT_MS} ms: ${log}`);
    }
    await sleep(200);
  }

  return {
    url,
    async query(expr, opts = {}) {
      const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: opts.signal ?? null });
      const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success' || body.data?.resultType !== 'vector') throw new Error(`query ${expr} failed: ${body.error ?? JSON.stringify(body)}`);
      return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Polls `fn` every 250 ms until it returns a value other than undefined (a throw counts as not yet). */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}
