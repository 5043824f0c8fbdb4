// `bmaas dev` with the faults of the recovery guards: a callback-server outage
// longer than the silence threshold reboots nothing (the storm guard pauses,
// the summary says so, and convergence waits for the outage and the pause), and
// dead machines are rebooted through their BMCs exactly max-attempts times,
// then quarantined, while the rest of the fleet counts as converged.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { runBmaas } from '../shepherd/testing/index.ts';
import { planFaults, simMachineId, NO_FAULTS } from '../sim/index.ts';

const ONLY = (flag: string, share: number) => [
  ...['takeover', 'silent', 'unreachable', 'slow-ssh', 'dead'].flatMap((f) => [`--fault-${f}`, f === flag ? String(share) : '0']),
];

describe('bmaas dev: storm guard and quarantine', () => {
  const dirs: string[] = [];
  const newDir = async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'bmaas-dev-guards-'));
    dirs.push(d);
    return d;
  };
  const common = (dir: string, machines: number) => ['dev', '--data-dir', dir, '--machines', String(machines), '--webug-listen-address', 'off', '--metrics-listen-address', 'off', '--exit-when-converged', '--timeout', '150s', '--summary-interval', '1s'];
  async function withBmdb<T>(dir: string, fn: (bmdb: Bmdb) => Promise<T>): Promise<T> {
    const bmdb = await openBmdb({ url: `pglite://${path.join(dir, 'bmdb')}`, migrate: false });
    try {
      return await fn(bmdb);
    } finally {
      await bmdb.close();
    }
  }
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reboots nothing for a server outage longer than the silence threshold, and converges only after it', { timeout: 200_000 }, async () => {
    const dir = await newDir();
    // 15 s of outage against 10 s of silence: every machine looks dead for a while. It
    // starts 30 s in, so that on a busy machine too every agent heartbeated before it.
    const run = await runBmaas([...common(dir, 20), ...ONLY('silent', 0), '--fault-server-outage', '15s@30s'], { timeoutMs: 180_000 });
    assert.equal(run.code, 0, `stdout:\n${run.stdout.slice(-3000)}\nstderr:\n${run.stderr.slice(-3000)}`);
    assert.match(run.stdout, /server outage still to come; converging: waiting for the server outage \(still to come\)/);
    assert.match(run.stdout, /heartbeating 0, silent 20,.* storm guard paused \(no-heartbeats\) for \d+s.* server outage on/);
    assert.match(run.stdout, /BMC power\s+none yet\n\s+server outage\s+over\n\n\s+converged/);
    await withBmdb(dir, async (bmdb) => {
      const rows = await bmdb.queries.db.query(`SELECT (SELECT count(*)::int FROM recovery_reboots) AS reboots, (SELECT count(*)::int FROM machine_quarantined) AS quarantined`);
      assert.deepEqual(rows.rows[0], { reboots: 0, quarantined: 0 });
    });
  });

  it('reboots a dead machine max-attempts times through its BMC, then quarantines it; the rest converges', { timeout: 200_000 }, async () => {
    const dir = await newDir();
    // 30 machines: dev's reboot cap (a quarter of the fleet per 30 s) leaves room for the dead machines' 6 reboots.
    const run = await runBmaas([...common(dir, 30), ...ONLY('dead', 0.07), '--silent-after', '2s', '--backoff-initial', '1s', '--backoff-max', '2s'], { timeoutMs: 180_000 });
    assert.equal(run.code, 0, `stdout:\n${run.stdout.slice(-3000)}\nstderr:\n${run.stderr.slice(-3000)}`);
    assert.match(run.stdout, /heartbeating\s+28\s+silent\s+2[\s\S]*quarantined\s+2\s+storm guard\s+not paused\s+BMC power\s+On ok 4, GracefulRestart ok 2\n\n\s+converged/);
    const dead = planFaults(30, { ...NO_FAULTS, dead: 0.07 }, 1).flatMap((f, i) => (f === 'dead' ? [simMachineId(i)] : []));
    assert.equal(dead.length, 2);
    await withBmdb(dir, async (bmdb) => {
      const r = await bmdb.queries.db.query(
        `SELECT mp.provider_id, q.quarantined_by, q.quarantine_reason,
           (SELECT count(*)::int FROM recovery_reboots rr WHERE rr.machine_id = mp.machine_id) AS reboots
         FROM machine_provided mp LEFT JOIN machine_quarantined q ON q.machine_id = mp.machine_id ORDER BY mp.provider_id`,
      );
      for (const row of r.rows) {
        if (dead.includes(row.provider_id as string)) {
          assert.equal(row.reboots, 3, `${row.provider_id} was rebooted exactly 3 times`);
          assert.equal(row.quarantined_by, 'shepherd');
          assert.match(String(row.quarantine_reason), /^3 reboots without a heartbeat in between/);
        } else {
          assert.deepEqual([row.reboots, row.quarantined_by], [0, null], `${row.provider_id} was left alone`);
        }
      }
    });
  });
});
