// The agent as a real process: takeover over stdin/stdout, the detached
// daemon heartbeating to a real server. Runs against the script form always
// and against the shippable executable (dist/bmaas-agent) with an empty
// environment, to show it needs no Node.js. A missing artifact skips that form
// locally but fails under CI=true / BMAAS_REQUIRE_PG=1 (.ci/run builds it).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBmdb, type Bmdb } from '../bmdb/index.ts';
import { runTakeover, startTestServer, type TestServer } from '../../test/agent-harness.ts';
import { postgresRequired } from '../../test/pg.ts';
import { create, toBinary } from '@bufbuild/protobuf';
import { AgentHardwareReportSchema, OSInstallationRequestSchema, decodeMessage, decodeTakeoverResponse, encodeTakeoverInit } from '../proto/index.ts';
import { PID_FILE } from './daemon.ts';

const root = path.resolve(import.meta.dirname, '../..');
const artifact = path.join(root, 'dist', 'bmaas-agent');
const ARTIFACT_MISSING = 'dist/bmaas-agent not built (npm run build:agent)';
const artifactMissing = !existsSync(artifact);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const forms: Array<{ name: string; command: string[]; env: NodeJS.ProcessEnv; skip?: string }> = [
  { name: 'script (node src/agent/main.ts)', command: [process.execPath, path.join(root, 'src/agent/main.ts'), 'takeover'], env: { PATH: process.env.PATH } },
  {
    name: 'executable dist/bmaas-agent with an empty environment',
    command: [artifact, 'takeover'],
    env: {},
    // When the run must be complete, fall through to the test and fail there.
    ...(artifactMissing && !postgresRequired() ? { skip: ARTIFACT_MISSING } : {}),
  },
];

describe('agent process', () => {
  let bmdb: Bmdb;
  let srv: TestServer;
  let dir: string;
  before(async () => {
    bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
    srv = await startTestServer(bmdb);
    dir = await mkdtemp(path.join(os.tmpdir(), 'bmaas-agent-proc-'));
  });
  after(async () => {
    await srv.close();
    await bmdb.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const form of forms) {
    it(`${form.name}: takeover answers, the detached daemon heartbeats, reports hardware and installs`, { skip: form.skip ?? false }, async () => {
      if (form.command[0] === artifact && artifactMissing) assert.fail(`${ARTIFACT_MISSING}; required because CI=true or BMAAS_REQUIRE_PG=1`);
      const stateDir = await mkdtemp(path.join(dir, 'state-'));
      const installLog = path.join(stateDir, 'installs.jsonl');
      const rebooted = path.join(stateDir, 'rebooted');
      const machineId = await bmdb.transact('unittest', async (q) => (await q.newMachine()).machineId);
      const init = { machineId, bmaasEndpoint: srv.endpoint, caCertificate: srv.caCertificate };
      const args = ['--state-dir', stateDir, '--test-installer-log', installLog, '--reboot-command', `/bin/touch ${rebooted}`, '--heartbeat-interval', '200ms'];
      const res = await runTakeover([...form.command, ...args], form.env, encodeTakeoverInit(init));
      assert.equal(res.code, 0, res.stderr);
      const response = decodeTakeoverResponse(res.stdout);
      assert.equal(response.result.case, 'success', res.stderr);
      const success = response.result.value;
      assert.equal(success.initMessage?.machineId, machineId);
      assert.equal(success.key.length, 32);
      // What the initializer does with the answer.
      await bmdb.transact('unittest', (q) => q.setAgentStarted({ machineId, publicKey: success.key }));
      // Only a whole pid: the file can be read between its creation and its write,
      // and process.kill(0) would signal this whole process group (the test runner).
      const pid = await until('pid file', async () => {
        const n = Number((await readFile(path.join(stateDir, PID_FILE), 'utf8').catch(() => '')).trim());
        return Number.isInteger(n) && n > 1 ? n : undefined;
      });
      try {
        const hw = await until('hardware report', async () => {
          const r = await bmdb.driver.query('SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1', [machineId]);
          return r.rows[0] ? decodeMessage(AgentHardwareReportSchema, new Uint8Array(r.rows[0].hardware_report_raw as Uint8Array)) : undefined;
        });
        assert.ok((hw.report?.cpu.length ?? 0) > 0, 'the report describes this host');
        const raw = toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation: 9n, type: { case: 'metropolis', value: { bundleUrl: 'https://images.test/os.img', rootDevice: 'vda' } } }));
        await bmdb.transact('unittest', (q) => q.setOsInstallationRequest({ machineId, generation: 9, raw }));
        await until('reboot', async () => (existsSync(rebooted) ? true : undefined));
        const line = JSON.parse((await readFile(installLog, 'utf8')).trim()) as Record<string, unknown>;
        assert.deepEqual(line, { generation: '9', kind: 'metropolis', bundleUrl: 'https://images.test/os.img', rootDevice: 'vda' });
        const rep = await bmdb.driver.query('SELECT generation, os_installation_result FROM machine_os_installation_report WHERE machine_id = $1', [machineId]);
        assert.equal(rep.rows[0]?.os_installation_result, 'Success');
      } finally {
        process.kill(pid, 'SIGTERM');
      }
      await until('daemon exit', async () => (existsSync(path.join(stateDir, PID_FILE)) ? undefined : true));
    });
  }
});
