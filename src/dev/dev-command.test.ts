// `bmaas dev` end to end, as `npm start` runs it but with --exit-when-converged:
// a simulated fleet with every kind of fault converges, and the BMDB it leaves
// behind shows each machine handled the way its fault calls for. A second run
// on the same data directory resumes the fleet without adding machines.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { AgentHardwareReportSchema, decodeMessage } from '../proto/index.ts';
import { runBmaas, spawnBmaas, waitFor } from '../shepherd/testing/index.ts';
import { planFaults, simMachineId, type FaultFractions } from '../sim/index.ts';

const MACHINES = 20;
const FAULTS: FaultFractions = { takeover: 0.1, silent: 0.1, unreachable: 0.1, slowSsh: 0.1, dead: 0 };

describe('bmaas dev --exit-when-converged', () => {
  let dir: string;
  const args = () => [
    'dev',
    '--data-dir', dir,
    '--machines', String(MACHINES),
    '--fault-takeover', String(FAULTS.takeover),
    '--fault-silent', String(FAULTS.silent),
    '--fault-unreachable', String(FAULTS.unreachable),
    '--fault-slow-ssh', String(FAULTS.slowSsh),
    '--webug-listen-address', '127.0.0.1:0',
    '--exit-when-converged',
    '--timeout', '150s',
  ];

  async function withBmdb<T>(fn: (bmdb: Bmdb) => Promise<T>): Promise<T> {
    const bmdb = await openBmdb({ url: `pglite://${path.join(dir, 'bmdb')}`, migrate: false });
    try {
      return await fn(bmdb);
    } finally {
      await bmdb.close();
    }
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-dev-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('converges with faults, and the BMDB shows every machine handled as its fault calls for', { timeout: 240_000 }, async () => {
    const run = await runBmaas(args(), { timeoutMs: 200_000 });
    assert.equal(run.code, 0, `stdout:\n${run.stdout.slice(-3000)}\nstderr:\n${run.stderr.slice(-3000)}`);
    assert.match(run.stdout, /converged after \d+s/);
    assert.match(run.stdout, /web UI\s+http:\/\/127\.0\.0\.1:\d+\//);

    const plan = planFaults(MACHINES, FAULTS, 1);
    for (const kind of ['takeover', 'silent', 'unreachable', 'slowSsh'] as const) {
      assert.equal(plan.filter((f) => f === kind).length, 2, `two machines with fault ${kind}`);
    }
    await withBmdb(async (bmdb) => {
      const q = (sql: string, params: unknown[] = []) => bmdb.queries.db.query(sql, params).then((r) => r.rows);
      assert.equal((await q(`SELECT 1 FROM machine_provided WHERE provider = 'Sim'`)).length, MACHINES);
      const serials = new Set<string>();
      for (const [i, fault] of plan.entries()) {
        const providerId = simMachineId(i);
        const [m] = await q(
          `SELECT mp.machine_id,
             EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id) AS started,
             (SELECT h.agent_heartbeat_at > now() - interval '60 seconds' FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id) AS recent,
             (SELECT count(*)::int FROM work_history w WHERE w.machine_id = mp.machine_id AND w.process = 'ShepherdRecovery' AND w.event = 'Finished') AS recoveries,
             (SELECT b.cause FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.process = 'ShepherdAgentStart') AS backoff_cause,
             (SELECT r.hardware_report_raw FROM machine_hardware_report r WHERE r.machine_id = mp.machine_id) AS hardware
           FROM machine_provided mp WHERE mp.provider_id = $1`,
          [providerId],
        );
        assert.ok(m, `${providerId} is in the BMDB`);
        const what = `${providerId} (${fault})`;
        switch (fault) {
          case 'none':
          case 'slowSsh':
          case 'silent': {
            assert.equal(m.started, true, `${what} has AgentStarted`);
            assert.equal(m.recent, true, `${what} heartbeated in the last minute`);
            const report = decodeMessage(AgentHardwareReportSchema, new Uint8Array(m.hardware as Buffer));
            assert.equal(report.report?.manufacturer, 'bmaas simulator');
            serials.add(report.report!.serialNumber);
            if (fault === 'silent') assert.ok(Number(m.recoveries) >= 1, `${what} has a Finished ShepherdRecovery`);
            else assert.equal(Number(m.recoveries), 0, `${what} was never recovered`);
            break;
          }
          case 'takeover':
            assert.equal(m.started, false, `${what} has no AgentStarted`);
            assert.match(String(m.backoff_cause), /simulated fault: the agent daemon would not start/, `${what} backs off with its cause`);
            break;
          case 'unreachable':
            assert.equal(m.started, false, `${what} has no AgentStarted`);
            assert.match(String(m.backoff_cause), /connect timeout/, `${what} backs off with its cause`);
            break;
        }
      }
      assert.equal(serials.size, plan.filter((f) => f !== 'takeover' && f !== 'unreachable').length, 'every machine reports its own hardware');

      // The recoverer went through the device list's BMCs, and no BMC password went anywhere.
      assert.match(run.stdout, /BMC power\s+GracefulRestart ok [1-9]/);
      const devices = JSON.parse(await readFile(path.join(dir, 'devices.json'), 'utf8')) as Array<{ ID: string; BMC: { PasswordFile: string; TLS: { CACertificate: string } } }>;
      assert.equal(devices.length, MACHINES);
      assert.equal((await stat(path.join(dir, 'devices.json'))).mode & 0o777, 0o600);
      const stored = (await q(`SELECT concat_ws(' ', (SELECT string_agg(t::text, ' ') FROM machine_provided t), (SELECT string_agg(t::text, ' ') FROM work_history t),
        (SELECT string_agg(t::text, ' ') FROM work_backoff t), (SELECT string_agg(t::text, ' ') FROM machine_attempts t)) AS all`))[0]!.all as string;
      const log = await readFile(path.join(dir, 'dev.log'), 'utf8');
      for (const d of devices) {
        assert.equal((await stat(d.BMC.PasswordFile)).mode & 0o777, 0o600, `${d.ID}'s password file is 0600`);
        const password = (await readFile(d.BMC.PasswordFile, 'utf8')).trim();
        assert.ok(password.length >= 16);
        assert.ok(!log.includes(password) && !run.stdout.includes(password) && !run.stderr.includes(password), `${d.ID}'s BMC password is in no output`);
        assert.ok(!stored.includes(password), `${d.ID}'s BMC password is not in the BMDB`);
      }
    });
  });

  it('resumes on the same data directory without adding machines', { timeout: 240_000 }, async () => {
    const before = await withBmdb(async (bmdb) => (await bmdb.queries.db.query('SELECT machine_id::text AS id FROM machines ORDER BY 1')).rows.map((r) => r.id as string));
    const run = await runBmaas(args(), { timeoutMs: 200_000 });
    assert.equal(run.code, 0, `stdout:\n${run.stdout.slice(-3000)}\nstderr:\n${run.stderr.slice(-3000)}`);
    const afterRun = await withBmdb(async (bmdb) => (await bmdb.queries.db.query('SELECT machine_id::text AS id FROM machines ORDER BY 1')).rows.map((r) => r.id as string));
    assert.deepEqual(afterRun, before);
  });

  it('stops cleanly within a few seconds on SIGINT, saying the fleet resumes next time', { timeout: 120_000 }, async () => {
    const p = spawnBmaas(['dev', '--data-dir', dir, '--machines', String(MACHINES), '--webug-listen-address', '127.0.0.1:0', '--summary-interval', '500ms']);
    try {
      await waitFor(`a summary line (${p.stderr().slice(-1000)})`, () => /heartbeating [1-9]/.test(p.stdout()) || p.child.exitCode !== null, 60_000, 50);
      const t0 = Date.now();
      p.child.kill('SIGINT');
      const code = await p.exited;
      const tookMs = Date.now() - t0;
      assert.equal(code, 0, p.stderr().slice(-2000));
      assert.ok(tookMs < 10_000, `stopped after ${tookMs} ms`);
      assert.match(p.stdout(), /stopped; the fleet is stored and resumes on the next start/);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});
