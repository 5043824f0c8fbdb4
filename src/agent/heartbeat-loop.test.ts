import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { after, before, describe, it } from 'node:test';
import type { Bmdb } from '../bmdb/index.ts';
import { describeBmdb } from '../../test/bmdb.ts';
import { enrolAgent, startTestServer, type TestServer } from '../../test/agent-harness.ts';
import { AgentHardwareReportSchema, OSInstallationReportSchema, OSInstallationRequestSchema, decodeMessage } from '../proto/index.ts';
import { clientCertificate } from './agent-identity.ts';
import { createCallbackClient } from './callback-client.ts';
import { retryDelayMs, runHeartbeatLoop } from './heartbeat-loop.ts';
import type { Installer } from './installers/index.ts';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('retryDelayMs', () => {
  it('doubles from the initial delay, caps at the maximum and keeps half of it random', () => {
    assert.equal(retryDelayMs(1, 1000, 60_000, () => 1), 1000);
    assert.equal(retryDelayMs(1, 1000, 60_000, () => 0), 500);
    assert.equal(retryDelayMs(3, 1000, 60_000, () => 1), 4000);
    assert.equal(retryDelayMs(20, 1000, 60_000, () => 1), 60_000);
    assert.equal(retryDelayMs(20, 1000, 60_000, () => 0), 30_000);
  });
});

describe('heartbeat loop logging', () => {
  it('treats UNAUTHENTICATED before the first accepted heartbeat as expected (info), and later as a failure (warn)', async () => {
    const entries: Array<{ level: string; msg: string }> = [];
    const record = (level: string) => (_obj: unknown, msg?: string) => {
      entries.push({ level, msg: msg ?? '' });
    };
    const logger = { info: record('info'), warn: record('warn'), error: record('error'), child: () => logger } as unknown as Logger;
    const answers: Array<'unauthenticated' | 'ok'> = ['unauthenticated', 'unauthenticated', 'ok', 'unauthenticated', 'ok'];
    const controller = new AbortController();
    const client = {
      heartbeat: () => {
        const next = answers.shift();
        if (next === undefined) {
          controller.abort();
          return Promise.reject(new Error('stopped'));
        }
        return next === 'ok' ? Promise.resolve({}) : Promise.reject(new ConnectError('agent authentication failed', Code.Unauthenticated));
      },
    } as unknown as Parameters<typeof runHeartbeatLoop>[0]['client'];
    await runHeartbeatLoop({ machineId: 'm', client, installers: {}, reboot: async () => {}, intervalMs: 1, backoffInitialMs: 1, backoffMaxMs: 2, logger, signal: controller.signal });
    const failures = entries.filter((e) => e.msg.includes('heartbeat failed') || e.msg.includes('does not know this agent'));
    assert.deepEqual(failures.map((e) => e.level), ['info', 'info', 'warn']);
  });
});

describe('heartbeat loop during an installation', () => {
  it('goes on heartbeating with the progress while installing, then sends the report at once and reboots', async () => {
    const controller = new AbortController();
    const sent: Array<{ progress?: string; report?: string }> = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const request = create(OSInstallationRequestSchema, { generation: 5n, type: { case: 'image', value: { url: 'http://x/os.img', sha256: new Uint8Array(32), targetDevice: '/dev/vdz' } } });
    let reboots = 0;
    const client = {
      heartbeat: (req: { installationProgress?: { generation: bigint; stage: number; bytesDone: bigint }; installationReport?: { generation: bigint; result: { case?: string } } }) => {
        sent.push({
          ...(req.installationProgress ? { progress: `${req.installationProgress.generation}/${req.installationProgress.stage}/${req.installationProgress.bytesDone}` } : {}),
          ...(req.installationReport ? { report: `${req.installationReport.generation}/${req.installationReport.result.case}` } : {}),
        });
        if (sent.filter((x) => x.progress).length === 3) release();
        if (reboots > 0) controller.abort();
        // The server hands out the request until its report arrived.
        return Promise.resolve(sent.some((x) => x.report) ? {} : { installationRequest: request });
      },
    } as unknown as Parameters<typeof runHeartbeatLoop>[0]['client'];
    const installer: Installer = {
      async install(_req, { progress }) {
        progress?.({ stage: 'writing', bytesDone: 4096, bytesTotal: 8192 });
        await gate;
      },
    };
    await runHeartbeatLoop({ machineId: 'm', client, installers: { image: installer }, reboot: async () => void reboots++, intervalMs: 5, signal: controller.signal });
    const firstReport = sent.findIndex((x) => x.report);
    assert.deepEqual(sent.slice(1, 4).map((x) => x.progress), ['5/1/4096', '5/1/4096', '5/1/4096']);
    assert.equal(sent[firstReport]!.report, '5/success');
    assert.equal(sent[firstReport]!.progress, undefined, 'the report replaces the progress');
    assert.equal(reboots, 1);
  });
});

describeBmdb('agent heartbeat loop', ({ open }) => {
  let bmdb: Bmdb;
  let srv: TestServer;
  before(async () => {
    bmdb = await open();
    srv = await startTestServer(bmdb);
  });
  after(async () => {
    await srv.close();
  });

  async function startAgent(opts: { installer?: Installer } = {}) {
    const { machineId, key } = await enrolAgent(bmdb);
    const callback = createCallbackClient({ endpoint: srv.endpoint, caCertificate: srv.caCertificate, ...(await clientCertificate(key, machineId)) });
    const controller = new AbortController();
    const installed: bigint[] = [];
    let reboots = 0;
    const hardwareReport = { report: { manufacturer: 'ACME', product: 'Box' }, warning: ['net: eth9: gone'] };
    const done = runHeartbeatLoop({
      machineId,
      client: callback.client,
      installers: {
        metropolis: opts.installer ?? {
          install: async (req) => {
            installed.push(req.generation);
          },
        },
      },
      hardwareReport,
      reboot: async () => {
        reboots++;
      },
      intervalMs: 50,
      callTimeoutMs: 2000,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
      signal: controller.signal,
    });
    return {
      machineId,
      installed,
      hardwareReport,
      reboots: () => reboots,
      async stop() {
        controller.abort();
        await done;
        callback.close();
      },
    };
  }

  const request = (generation: bigint) =>
    toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation, type: { case: 'metropolis', value: { bundleUrl: 'https://example.test/os#sha256=00', rootDevice: 'vda' } } }));

  async function reportOf(machineId: string) {
    const r = await bmdb.driver.query('SELECT generation, os_installation_result, os_installation_report_raw FROM machine_os_installation_report WHERE machine_id = $1', [machineId]);
    const row = r.rows[0];
    return row ? { generation: Number(row.generation), result: row.os_installation_result as string, report: decodeMessage(OSInstallationReportSchema, new Uint8Array(row.os_installation_report_raw as Uint8Array)) } : undefined;
  }

  it('heartbeats, delivers the hardware report, installs a request once, reports the same generation and reboots', async () => {
    const agent = await startAgent();
    try {
      const hw = await until('hardware report', async () => {
        const r = await bmdb.driver.query('SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1', [agent.machineId]);
        return r.rows[0] ? decodeMessage(AgentHardwareReportSchema, new Uint8Array(r.rows[0].hardware_report_raw as Uint8Array)) : undefined;
      });
      assert.equal(hw.report?.manufacturer, 'ACME');
      assert.deepEqual(hw.warning, ['net: eth9: gone']);
      const first = await until('heartbeat', async () => (await bmdb.driver.query('SELECT agent_heartbeat_at FROM machine_agent_heartbeat WHERE machine_id = $1', [agent.machineId])).rows[0]?.agent_heartbeat_at as Date | undefined);
      await bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId: agent.machineId, generation: 123, raw: request(123n) }));
      const rep = await until('installation report', () => reportOf(agent.machineId));
      assert.equal(rep.generation, 123);
      assert.equal(rep.result, 'Success');
      await until('reboot', async () => (agent.reboots() === 1 ? true : undefined));
      // A few more beats: no second installation, no second reboot, the heartbeat time moves on.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(agent.installed, [123n]);
      assert.equal(agent.reboots(), 1);
      const last = (await bmdb.driver.query('SELECT agent_heartbeat_at FROM machine_agent_heartbeat WHERE machine_id = $1', [agent.machineId])).rows[0]!.agent_heartbeat_at as Date;
      assert.ok(last.getTime() > first.getTime());
    } finally {
      await agent.stop();
    }
  });

  it('answers a request of an unknown kind with an error report and does not reboot', async () => {
    const agent = await startAgent();
    try {
      // generation 77 and a oneof member with field number 15, which this build does not know.
      const raw = new Uint8Array([0x08, 77, 0x7a, 0x00]);
      await bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId: agent.machineId, generation: 77, raw }));
      const rep = await until('installation report', () => reportOf(agent.machineId));
      assert.equal(rep.generation, 77);
      assert.equal(rep.result, 'Error');
      assert.equal(rep.report.result.case, 'error');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(agent.reboots(), 0);
      assert.deepEqual(agent.installed, []);
    } finally {
      await agent.stop();
    }
  });

  it('reports an installer failure as an error with its message, without rebooting', async () => {
    const agent = await startAgent({
      installer: {
        install: () => Promise.reject(new Error('root device vda not found')),
      },
    });
    try {
      await bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId: agent.machineId, generation: 5, raw: request(5n) }));
      const rep = await until('installation report', () => reportOf(agent.machineId));
      assert.equal(rep.result, 'Error');
      assert.deepEqual(rep.report.result, { case: 'error', value: { $typeName: 'cloud.bmaas.server.api.OSInstallationReport.Error', error: 'root device vda not found' } });
      assert.equal(agent.reboots(), 0);
    } finally {
      await agent.stop();
    }
  });
});
