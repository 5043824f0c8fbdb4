// Candidacy tables: which tag combinations make a machine a candidate for
// agent start and for recovery. Each row is checked against the candidate
// query and against the stats count built from the same predicate.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import type { Bmdb } from './connection.ts';
import type { Process } from './model.ts';

interface Setup {
  agentStartedAgoMin?: number;
  heartbeatAgoMin?: number;
  work?: Process;
  backoff?: { process: Process; expired?: boolean };
  installation?: { request: number; report?: number; result?: 'Success' | 'Error' };
  provider?: 'Equinix';
  /** The provider cannot reboot it (a device-list entry without a BMC). */
  notRebootable?: boolean;
}

async function apply(bmdb: Bmdb, machineId: string, s: Setup, sessionId: string): Promise<void> {
  const q = bmdb.queries;
  const minsAgo = (m: number) => new Date(Date.now() - m * 60_000);
  if (s.agentStartedAgoMin !== undefined) await q.setAgentStarted({ machineId, startedAt: minsAgo(s.agentStartedAgoMin), publicKey: new Uint8Array(32) });
  if (s.heartbeatAgoMin !== undefined) await q.setAgentHeartbeat({ machineId, at: minsAgo(s.heartbeatAgoMin) });
  if (s.notRebootable) await bmdb.driver.query('UPDATE machine_provided SET provider_rebootable = false WHERE machine_id = $1', [machineId]);
  if (s.work) await bmdb.driver.query('INSERT INTO work (machine_id, session_id, process) VALUES ($1, $2, $3)', [machineId, sessionId, s.work]);
  if (s.backoff) {
    await bmdb.driver.query(`INSERT INTO work_backoff (machine_id, process, until, cause) VALUES ($1, $2, now() + $3::int * interval '1 hour', 'test')`, [
      machineId,
      s.backoff.process,
      s.backoff.expired ? -1 : 1,
    ]);
  }
  if (s.installation) {
    await q.setOsInstallationRequest({ machineId, generation: s.installation.request, raw: new Uint8Array() });
    if (s.installation.report !== undefined) {
      await q.setOsInstallationReport({ machineId, generation: s.installation.report, result: s.installation.result ?? 'Success', raw: new Uint8Array() });
    }
  }
}

const agentStartTable: Array<[string, Setup, boolean]> = [
  ['provided, nothing else', {}, true],
  ['agent started', { agentStartedAgoMin: 1 }, false],
  ['active ShepherdAccess work', { work: 'ShepherdAccess' }, false],
  ['active ShepherdAgentStart work', { work: 'ShepherdAgentStart' }, false],
  ['active ShepherdRecovery work', { work: 'ShepherdRecovery' }, false],
  ['active work of an unrelated process', { work: 'UnitTest1' }, true],
  ['active ShepherdAgentStart backoff', { backoff: { process: 'ShepherdAgentStart' } }, false],
  ['expired ShepherdAgentStart backoff', { backoff: { process: 'ShepherdAgentStart', expired: true } }, true],
  ['active backoff of another process', { backoff: { process: 'ShepherdRecovery' } }, true],
  ['installation requested, not reported', { installation: { request: 1 } }, true],
  ['installation fulfilled (same generation)', { installation: { request: 1, report: 1 } }, false],
  ['installation fulfilled with an error', { installation: { request: 1, report: 1, result: 'Error' } }, false],
  ['installation report of an older generation', { installation: { request: 2, report: 1 } }, true],
  ['provided by another provider', { provider: 'Equinix' }, false],
  ['not rebootable (no BMC): the agent is still started', { notRebootable: true }, true],
];

const recoveryTable: Array<[string, Setup, boolean]> = [
  ['no agent started', {}, false],
  ['agent started a minute ago, no heartbeat yet', { agentStartedAgoMin: 1 }, false],
  ['agent started 29 minutes ago, no heartbeat', { agentStartedAgoMin: 29 }, false],
  ['agent started 31 minutes ago, no heartbeat', { agentStartedAgoMin: 31 }, true],
  ['agent started 10 hours ago, heartbeat a minute ago', { agentStartedAgoMin: 600, heartbeatAgoMin: 1 }, false],
  ['heartbeat 9 minutes ago', { agentStartedAgoMin: 600, heartbeatAgoMin: 9 }, false],
  ['heartbeat 11 minutes ago', { agentStartedAgoMin: 600, heartbeatAgoMin: 11 }, true],
  ['silent but ShepherdAgentStart work open', { agentStartedAgoMin: 600, work: 'ShepherdAgentStart' }, false],
  ['silent but ShepherdRecovery work open', { agentStartedAgoMin: 600, work: 'ShepherdRecovery' }, false],
  ['silent, active ShepherdRecovery backoff', { agentStartedAgoMin: 600, backoff: { process: 'ShepherdRecovery' } }, false],
  ['silent, expired ShepherdRecovery backoff', { agentStartedAgoMin: 600, backoff: { process: 'ShepherdRecovery', expired: true } }, true],
  ['silent, successful installation fulfilled', { agentStartedAgoMin: 600, installation: { request: 1, report: 1 } }, false],
  ['silent, failed installation fulfilled', { agentStartedAgoMin: 600, installation: { request: 1, report: 1, result: 'Error' } }, true],
  ['silent, installation pending', { agentStartedAgoMin: 600, installation: { request: 2, report: 1 } }, true],
  ['silent, other provider', { agentStartedAgoMin: 600, provider: 'Equinix' }, false],
  ['silent, not rebootable (no BMC)', { agentStartedAgoMin: 600, notRebootable: true }, false],
  ['heartbeat 11 minutes ago, not rebootable (no BMC)', { agentStartedAgoMin: 600, heartbeatAgoMin: 11, notRebootable: true }, false],
];

describeBmdb('candidacy tables', ({ open }) => {
  for (const [kind, table] of [
    ['agent start', agentStartTable],
    ['recovery', recoveryTable],
  ] as const) {
    it(`${kind}: every row of the table, with the stats count agreeing`, async () => {
      const bmdb = await open();
      const s = await bmdb.startSession({ component: 't', processor: 'unittest' });
      const failures: string[] = [];
      for (const [name, setup, expected] of table) {
        await bmdb.driver.query('TRUNCATE machines, machine_provided, work, work_backoff, machine_agent_started, machine_agent_heartbeat, machine_os_installation_request, machine_os_installation_report CASCADE');
        const [m] = await provideMachines(bmdb, 1, { provider: setup.provider ?? 'None' });
        await apply(bmdb, m!, setup, s.sessionId);
        const found =
          kind === 'agent start'
            ? await bmdb.transact('unittest', (q) => q.getAgentStartCandidates({ provider: 'None', limit: 10 }))
            : await bmdb.transact('unittest', (q) => q.getRecoveryCandidates({ provider: 'None', limit: 10 }));
        const isCandidate = found.some((c) => c.machineId === m);
        if (isCandidate !== expected) failures.push(`${name}: expected ${expected ? '' : 'not '}a candidate`);
        // The stats count covers every provider; it must agree except where the row is about the provider.
        if (!setup.provider) {
          const count = kind === 'agent start' ? await bmdb.queries.countMachinesPendingAgentStart() : await bmdb.queries.countMachinesPendingAgentRecovery();
          if (count !== (expected ? 1 : 0)) failures.push(`${name}: stats count ${count}`);
        }
      }
      assert.deepEqual(failures, []);
      await s.close();
    });
  }
});
