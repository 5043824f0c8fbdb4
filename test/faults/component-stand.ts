// Every component as a process on a shepherd stand, for the fault tests that
// take the database away from all of them (outage, failover): shepherd,
// callback server, webug and scruffy, each under its role, plus one enrolled
// agent of the test's own, and a check per component that it works (a
// takeover recorded, a heartbeat accepted, a page served, a collection made).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { clientCertificate } from '../../src/agent/index.ts';
import type { RoleComponent } from '../../src/bmdb/index.ts';
import { openBmdb } from '../../src/bmdb/index.ts';
import { spawnBmaas, waitFor, type BmaasProcess } from '../../src/shepherd/testing/index.ts';
import { callHeartbeat, enrolAgent } from '../agent-harness.ts';
import { waitWithLogs, type ShepherdStand } from './shepherd-stand.ts';

export const OUTAGE_STARTED = 'the database is unreachable; every part of this process retries by itself (failures are logged at debug until it answers again)';
export const OUTAGE_ENDED = 'the database answers again';

/** One query on a fresh connection (the database comes and goes); undefined when it fails. */
export async function row(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown> | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

/** Log lines of `text` whose msg is `msg`. */
export function logLines(text: string, msg: string): string[] {
  return text.split('\n').filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
}

/** Log lines at warn or above. */
export function warnings(text: string): string[] {
  return text.split('\n').filter((l) => {
    try {
      return (JSON.parse(l) as { level?: number }).level! >= 40;
    } catch {
      return false;
    }
  });
}

export type ComponentName = 'shepherd' | 'server' | 'webug' | 'scruffy';

export interface Components {
  readonly all: Readonly<Record<ComponentName, BmaasProcess>>;
  /** The tails of every process's output, for assertion messages. */
  logs(): string;
  readonly checks: {
    /** At least `n` machines were taken over. */
    shepherd(n: number): Promise<boolean>;
    /** The server accepted a heartbeat of the test's agent. */
    server(): Promise<boolean>;
    webug(): Promise<boolean>;
    /** scruffy collected after `since` (ms since the epoch). */
    scruffy(since: number): Promise<boolean>;
  };
  /** Committed counts, read through `adminUrl()`. */
  committed(): Promise<{ machines: number; history: number; started: number }>;
  /** Waits until every component works again after `since`; ms per component. */
  backAfter(since: number, machines: number, timeoutMs: number): Promise<Record<ComponentName, number>>;
  /** SIGTERM to each; resolves with their exit codes. */
  stop(): Promise<Record<ComponentName, number | null>>;
}

/**
 * Starts the four components against `url(component)` and waits until each
 * works. `adminUrl()` is where the checks read (it may move, as in a failover);
 * `track` is given every process the stand does not stop itself, at once.
 */
export async function startComponents(stand: ShepherdStand, opts: { url: (c: RoleComponent) => string; adminUrl: () => string; track: (p: BmaasProcess) => void }): Promise<Components> {
  const shepherd = stand.spawnShepherd([], { url: opts.url('shepherd') });
  const server = spawnBmaas(['server', '--bmdb-url', opts.url('server'), '--listen-address', '127.0.0.1:0', '--dev-certs', '--dev-certs-dir', join(stand.dir, 'certs')]);
  const webug = spawnBmaas(['webug', '--bmdb-url', opts.url('webug'), '--listen-address', '127.0.0.1:0']);
  const scruffy = spawnBmaas(['scruffy', '--bmdb-url', opts.url('scruffy'), '--metrics-listen-address', '127.0.0.1:0', '--collection-interval', '1s']);
  const all = { shepherd, server, webug, scruffy };
  for (const p of [server, webug, scruffy]) opts.track(p);
  const logs = (): string => Object.entries(all).map(([n, p]) => `${n} (exit ${p.child.exitCode}):\n${p.stdout().slice(-300)}${p.stderr().slice(-1200)}`).join('\n');
  await waitWithLogs('webug and scruffy to listen', logs, () => /webug: http/.test(webug.stdout()) && /metrics on http/.test(scruffy.stdout()), 90_000, 100);
  const webugUrl = `${/webug: (http\S+)/.exec(webug.stdout())![1]!.replace(/\/$/, '')}/api/machines`;
  const metricsUrl = /metrics on (http\S+)/.exec(scruffy.stdout())![1]!;
  await waitWithLogs('the server to listen', logs, () => /listening on 127\.0\.0\.1:\d+/.test(server.stdout()), 60_000);
  const endpoint = { endpoint: /listening on (127\.0\.0\.1:\d+)/.exec(server.stdout())![1]!, caCertificate: await readFile(join(stand.dir, 'certs', 'ca.der')) };
  // An agent of our own: each heartbeat the server accepts went through the BMDB.
  const agent = await (async () => {
    await using admin = await openBmdb({ url: opts.adminUrl() });
    return enrolAgent(admin);
  })();
  const agentCert = await clientCertificate(agent.key, agent.machineId);

  const checks: Components['checks'] = {
    shepherd: async (n) => Number((await row(opts.adminUrl(), 'SELECT count(*)::int AS n FROM machine_agent_started JOIN machine_provided USING (machine_id)'))?.n ?? 0) >= n,
    server: async () => {
      try {
        await callHeartbeat(endpoint, agentCert, { machineId: agent.machineId }, { timeoutMs: 3000 });
        return true;
      } catch {
        return false;
      }
    },
    webug: () => httpOk(webugUrl),
    scruffy: async (since) => {
      try {
        const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(3000) })).text();
        const m = /^scruffy_last_successful_collection_timestamp_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
        return m !== null && Number(m[1]) * 1000 > since;
      } catch {
        return false;
      }
    },
  };
  await waitWithLogs('the first takeover', logs, () => checks.shepherd(1), 60_000, 200);
  await waitWithLogs('a heartbeat through the server', logs, checks.server, 30_000, 200);
  await waitFor('webug to answer', checks.webug, 30_000, 200);
  await waitFor('scruffy to collect', () => checks.scruffy(0), 30_000, 200);

  const backAfter = async (since: number, machines: number, timeoutMs: number): Promise<Record<ComponentName, number>> => {
    const out = {} as Record<ComponentName, number>;
    const each: Record<ComponentName, () => Promise<boolean>> = { shepherd: () => checks.shepherd(machines), server: checks.server, webug: checks.webug, scruffy: () => checks.scruffy(since) };
    await Promise.all(
      (Object.entries(each) as Array<[ComponentName, () => Promise<boolean>]>).map(async ([name, check]) => {
        await waitWithLogs(`${name} to work again`, logs, check, timeoutMs, 100);
        out[name] = Date.now() - since;
      }),
    );
    return out;
  };
  const committed = async (): Promise<{ machines: number; history: number; started: number }> =>
    (await row(opts.adminUrl(), `SELECT (SELECT count(*) FROM machines)::int AS machines, (SELECT count(*) FROM work_history)::int AS history, (SELECT count(*) FROM machine_agent_started)::int AS started`)) as { machines: number; history: number; started: number };
  const stop = async (): Promise<Record<ComponentName, number | null>> => {
    for (const p of Object.values(all)) p.child.kill('SIGTERM');
    const codes = {} as Record<ComponentName, number | null>;
    for (const [name, p] of Object.entries(all) as Array<[ComponentName, BmaasProcess]>) codes[name] = await p.exited;
    return codes;
  };
  return { all, logs, checks, committed, backAfter, stop };
}
