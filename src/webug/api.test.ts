import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeBmdb } from '../../test/bmdb.ts';
import { DEFAULT_STUCK_LIMITS, type Bmdb } from '../bmdb/index.ts';
import { startWebug, WebugConfigError, type Webug } from './index.ts';
import { HOSTILE, seedDemoFleet, seedMachine, type DemoFleet } from './testing/seed.ts';

describeBmdb('webug API', ({ open }) => {
  let bmdb: Bmdb;
  let webug: Webug;
  let fleet: DemoFleet;
  const get = async (path: string, init?: RequestInit) => fetch(new URL(path, webug.url), init);
  const json = async <T = Record<string, unknown>>(path: string): Promise<T> => {
    const res = await get(path);
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  type Page = { rows: Array<{ machineId: string; providerId: string; tags: string[]; status: { label: string } }>; next: string | null; counts: { machines: number; tags: Record<string, number> } };

  before(async () => {
    bmdb = await open();
    fleet = await seedDemoFleet(bmdb.driver);
    for (let i = 0; i < 5; i++) await seedMachine(bmdb.driver, { providerId: `page-${i}`, address: `192.0.2.${i}`, heartbeatSecondsAgo: 10 * i, agentStartedSecondsAgo: 100 });
    webug = await startWebug({ bmdb, listenAddress: '127.0.0.1:0' });
  });
  after(async () => {
    await webug?.close();
  });

  it('lists the fleet with per-tag counts and discovers every machine_* table', async () => {
    const page = await json<Page>('/api/machines');
    assert.equal(page.rows.length, 12);
    assert.equal(page.counts.machines, 12);
    assert.equal(page.counts.tags.provided, 12);
    assert.equal(page.counts.tags.hardware_report, 3);
    const status = await json<{ tags: Array<{ name: string }>; schemaVersion: number }>('/api/status');
    assert.ok(status.tags.some((t) => t.name === 'os_installation_report'));
    assert.ok(status.schemaVersion >= 1);
  });

  it('pages by keyset without gaps or repeats', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: Page = await json<Page>(`/api/machines?limit=5${next ? `&after=${next}` : ''}`);
      seen.push(...page.rows.map((r) => r.machineId));
      next = page.next;
    } while (next);
    assert.equal(seen.length, 12);
    assert.deepEqual(seen, [...seen].sort());
    const byHeartbeat: string[] = [];
    next = null;
    do {
      const page: Page = await json<Page>(`/api/machines?sort=heartbeat&limit=2${next ? `&after=${next}` : ''}`);
      byHeartbeat.push(...page.rows.map((r) => r.providerId));
      next = page.next;
    } while (next);
    assert.equal(byHeartbeat.length, 8, 'every machine with a heartbeat, once');
    assert.equal(byHeartbeat[0], 'lumen-77', 'stalest first');
  });

  it('filters by provider, tag, work, backoff and heartbeat age, and searches', async () => {
    const ids = async (q: string) => (await json<Page>(`/api/machines?${q}`)).rows.map((r) => r.machineId).sort();
    assert.deepEqual(await ids('provider=Lumen'), [fleet.silent]);
    assert.deepEqual(await ids('work=ShepherdAgentStart'), [fleet.busy]);
    assert.deepEqual(await ids('backoff=ShepherdAgentStart'), [fleet.backingOff, fleet.hostile].sort());
    assert.deepEqual(await ids('hb_older=10m'), [fleet.silent]);
    assert.deepEqual(await ids('has=os_installation_report'), [fleet.installed]);
    assert.equal((await ids('lacks=agent_started')).length, 4);
    assert.deepEqual(await ids(`q=${fleet.installed.slice(0, 13)}`), [fleet.installed]);
    assert.deepEqual(await ids('q=lumen-7'), [fleet.silent]);
    assert.deepEqual(await ids('q=147.75.10.2'), [fleet.busy]);
    const bad = await get('/api/machines?has=nonsense');
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /unknown tag/);
  });

  it('explains each process from the shared predicates, with work and backoff details', async () => {
    type Detail = { explain: Array<{ process: string; candidate: boolean; clauses: Array<{ id: string; holds: boolean; details: string[] }> }>; work: Array<{ sessionId: string; component: string }>; history: Array<{ event: string }>; tags: Array<{ name: string; present: boolean; fields: Array<{ name: string; decoded?: { summary: string[] } }> }> };
    const fresh = await json<Detail>(`/api/machines/${fleet.fresh}`);
    assert.equal(fresh.explain.find((e) => e.process === 'ShepherdAgentStart')!.candidate, true);
    const busy = await json<Detail>(`/api/machines/${fleet.busy}`);
    const work = busy.explain[0]!.clauses.find((c) => c.id === 'no-active-work')!;
    assert.equal(work.holds, false);
    assert.match(work.details[0]!, new RegExp(`held by session ${fleet.session} \\(shepherd-initializer\\) since `));
    assert.equal(busy.work[0]!.component, 'shepherd-initializer');
    const backoff = (await json<Detail>(`/api/machines/${fleet.backingOff}`)).explain[0]!.clauses.find((c) => c.id === 'no-active-backoff')!;
    assert.equal(backoff.holds, false);
    assert.match(backoff.details[0]!, /backing off until .*: ssh: handshake failed/);
    const silent = await json<Detail>(`/api/machines/${fleet.silent}`);
    assert.equal(silent.explain.find((e) => e.process === 'ShepherdRecovery')!.candidate, true);
    const hw = silent.tags.find((t) => t.name === 'hardware_report')!.fields[0]!.decoded!;
    assert.ok(hw.summary.some((l) => l.startsWith('CPU: 2 socket(s), 40 cores, 80 threads')));
    assert.ok(hw.summary.some((l) => l.startsWith('RAM: 256 GiB')));
    const installed = await json<Detail>(`/api/machines/${fleet.installed}`);
    assert.equal(installed.explain[0]!.clauses.find((c) => c.id === 'no-fulfilled-installation')!.holds, false);
    assert.equal((await get('/api/machines/00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await get('/api/machines/nope')).status, 400);
  });

  it('explains that a machine without a BMC is never a recovery candidate', async () => {
    type Detail = { explain: Array<{ process: string; candidate: boolean; clauses: Array<{ id: string; holds: boolean; details: string[] }> }> };
    await bmdb.driver.query('UPDATE machine_provided SET provider_rebootable = false WHERE machine_id = $1', [fleet.silent]);
    try {
      const recovery = (await json<Detail>(`/api/machines/${fleet.silent}`)).explain.find((e) => e.process === 'ShepherdRecovery')!;
      assert.equal(recovery.candidate, false);
      const clause = recovery.clauses.find((c) => c.id === 'rebootable')!;
      assert.equal(clause.holds, false);
      assert.deepEqual(clause.details, ['no BMC: cannot be rebooted, never a recovery candidate']);
      const failing = recovery.clauses.filter((c) => !c.holds).map((c) => c.id);
      assert.deepEqual(failing, ['rebootable'], 'the only reason it is not a candidate');
    } finally {
      await bmdb.driver.query('UPDATE machine_provided SET provider_rebootable = true WHERE machine_id = $1', [fleet.silent]);
    }
  });

  it('filters and counts stuck machines, badges them, and says why each is stuck', async () => {
    // The silent machine's heartbeat is 30 min old: stuck against a 10 min limit.
    const strict = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', stuckLimits: { ...DEFAULT_STUCK_LIMITS, silent: 600 } });
    try {
      type StuckPage = { rows: Array<{ machineId: string; state: { state: string; stuck: boolean; stuckReason: string | null } | null }>; counts: { stuck: number } };
      const at = async <T>(path: string) => (await fetch(new URL(path, strict.url))).json() as Promise<T>;
      const stuck = await at<StuckPage>('/api/machines?stuck=any');
      assert.deepEqual(stuck.rows.map((r) => r.machineId), [fleet.silent]);
      assert.equal(stuck.counts.stuck, 1);
      assert.equal(stuck.rows[0]!.state!.state, 'silent');
      assert.match(stuck.rows[0]!.state!.stuckReason!, /^stuck: silent since \S+Z \(30m(\d+s)?\), longer than the silent limit of 10m$/);
      assert.deepEqual((await at<StuckPage>('/api/machines?stuck=silent')).rows.map((r) => r.machineId), [fleet.silent]);
      assert.deepEqual((await at<StuckPage>('/api/machines?stuck=backing-off')).rows, []);
      assert.equal((await fetch(new URL('/api/machines?stuck=sideways', strict.url))).status, 400);
      const detail = await at<{ state: { stuck: boolean; stuckReason: string } }>(`/api/machines/${fleet.silent}`);
      assert.equal(detail.state.stuck, true);
      const fleetHtml = await (await fetch(new URL('/', strict.url))).text();
      assert.match(fleetHtml, /class="badge bad stuck" title="stuck: silent since [^"]+">stuck: silent</);
      assert.match(fleetHtml, /<a href="\/\?stuck=any">stuck<\/a><\/div><div class="v bad-text">1</);
      const machineHtml = await (await fetch(new URL(`/machines/${fleet.silent}`, strict.url))).text();
      assert.match(machineHtml, /class="error stuck-reason">stuck: silent since/);
      // With the default limits (2 h silent) the same machine is not stuck.
      assert.equal((await json<StuckPage>('/api/machines?stuck=any')).counts.stuck, 0);
      assert.equal((await json<{ state: { stuck: boolean; stuckReason: null } }>(`/api/machines/${fleet.silent}`)).state.stuckReason, null);
    } finally {
      await strict.close();
    }
  });

  it('shows a session with the work it holds', async () => {
    const s = await json<{ session: { componentName: string; live: boolean }; work: Array<{ machineId: string }> }>(`/api/sessions/${fleet.session}`);
    assert.equal(s.session.componentName, 'shepherd-initializer');
    assert.equal(s.session.live, true);
    assert.deepEqual(s.work.map((w) => w.machineId), [fleet.busy]);
    const list = await json<{ sessions: Array<{ workCount: number }> }>('/api/sessions');
    assert.equal(list.sessions[0]!.workCount, 1);
  });

  it('pages and exports the audit trail with filters and a row cap', async () => {
    const failed = await json<{ rows: Array<{ failedCause: string }> }>('/api/audit?event=Failed');
    assert.equal(failed.rows.length, 2);
    const csv = await (await get('/audit/export.csv?process=ShepherdAgentStart')).text();
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'timestamp,machine_id,process,event,failed_cause');
    assert.equal(lines.length, 1 + 7);
    const capped = (await (await get('/audit/export.json?max=3')).json()) as { rows: unknown[]; truncated: boolean; count: number };
    assert.equal(capped.rows.length, 3);
    assert.equal(capped.truncated, true);
    const all: unknown[] = [];
    let next: string | null = null;
    do {
      const page: { rows: unknown[]; next: string | null } = await json(`/api/audit?limit=2${next ? `&before=${next}` : ''}`);
      all.push(...page.rows);
      next = page.next;
    } while (next);
    assert.equal(all.length, 7);
  });

  it('renders hostile provider ids and causes as inert text', async () => {
    for (const path of ['/', `/machines/${fleet.hostile}`, '/audit']) {
      const body = await (await get(path)).text();
      assert.ok(!body.includes('<script>window.__pwned'), path);
      assert.ok(!body.includes('<img src=x'), path);
      assert.ok(body.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'), path);
    }
    const res = await get('/');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'nonce-/);
    const detail = await json<{ tags: Array<{ name: string; fields: Array<{ name: string; value: string }> }> }>(`/api/machines/${fleet.hostile}`);
    assert.equal(detail.tags[0]!.fields.find((f) => f.name === 'provider_ip_address')!.value, HOSTILE);
  });

  it('is read-only and refuses anything but GET', async () => {
    assert.equal((await get('/api/machines', { method: 'POST' })).status, 405);
    assert.equal((await get('/api/machines', { method: 'DELETE' })).status, 405);
  });

  it('requires a token off loopback, and checks it when given', async () => {
    await assert.rejects(startWebug({ bmdb, listenAddress: '0.0.0.0:0' }), WebugConfigError);
    const token = 'a-long-enough-test-token';
    const guarded = await startWebug({ bmdb, listenAddress: '127.0.0.1:0', token });
    try {
      assert.equal((await fetch(new URL('/api/status', guarded.url))).status, 401);
      assert.equal((await fetch(new URL('/api/status', guarded.url), { headers: { authorization: `Bearer ${token}` } })).status, 200);
      const redirect = await fetch(new URL(`/?token=${token}`, guarded.url), { redirect: 'manual' });
      assert.equal(redirect.status, 303);
      const cookie = redirect.headers.get('set-cookie')!.split(';')[0]!;
      assert.equal((await fetch(new URL('/', guarded.url), { headers: { cookie } })).status, 200);
    } finally {
      await guarded.close();
    }
  });
});
