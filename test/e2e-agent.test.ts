// End to end with the shippable agent: `bmaas server` and `bmaas shepherd` as
// processes on one PostgreSQL database, a real sshd on loopback as the
// machine. The shepherd uploads the agent and runs takeover over SSH; the
// detached daemon heartbeats to the server, stores its hardware report, and
// an installation request round-trips through the test installer. Each
// component logs in under its own least-privilege role (src/bmdb/roles.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { create, toBinary } from '@bufbuild/protobuf';
import { AgentHardwareReportSchema, OSInstallationRequestSchema, decodeMessage } from '../src/proto/index.ts';
import { loadOrCreateSshKey } from '../src/shepherd/ssh/index.ts';
import { spawnBmaas, waitFor, type BmaasProcess } from '../src/shepherd/testing/index.ts';
import { describePostgres } from './pg.ts';
import { createRoleDatabase, type RoleDatabase } from './role-database.ts';
import { describeSshd, startSshd, type Sshd } from './sshd.ts';

const ROOT = join(import.meta.dirname, '..');
const ARTIFACT = join(ROOT, 'dist', 'bmaas-agent');

describeSshd('agent end to end', () => {
  describePostgres('shepherd, server and the built agent', () => {
    let dir: string;
    let sshd: Sshd;
    let db: RoleDatabase;
    const procs: BmaasProcess[] = [];
    let daemonPidFile: string;

    before(async () => {
      if (!existsSync(ARTIFACT)) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-agent.ts')], { cwd: ROOT, stdio: 'ignore' });
      dir = await mkdtemp(join(tmpdir(), 'bmaas-e2e-agent-'));
      const key = await loadOrCreateSshKey(join(dir, 'id_ed25519'));
      sshd = await startSshd({ authorizedKey: key.publicKeyOpenSsh });
      db = await createRoleDatabase();
      daemonPidFile = join(dir, 'state', 'agent.pid');
    });
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      const pid = Number(await readFile(daemonPidFile, 'utf8').catch(() => ''));
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await sshd?.stop();
      await db?.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('takes over a loopback SSH host; the daemon heartbeats, reports hardware and installs through the test installer', async () => {
      const server = spawnBmaas(['server', '--bmdb-url', db.url('server'), '--listen-address', '127.0.0.1:0', '--dev-certs', '--dev-certs-dir', join(dir, 'certs')]);
      procs.push(server);
      await waitFor(`server listening (${server.stderr().slice(-2000)})`, () => /listening on 127\.0\.0\.1:\d+/.test(server.stdout()) || server.child.exitCode !== null, 30_000);
      const endpoint = /listening on (127\.0\.0\.1:\d+)/.exec(server.stdout())?.[1];
      assert.ok(endpoint, server.stderr());

      // The machine runs the real artifact; the wrapper only adds test settings
      // (state in the temp dir, the recording installer, an observable reboot).
      const wrapper = join(dir, 'agent-wrapper.sh');
      await writeFile(
        wrapper,
        `#!/bin/sh\nexec ${ARTIFACT} takeover --state-dir ${join(dir, 'state')} --test-installer-log ${join(dir, 'installs.jsonl')} --reboot-command "/bin/touch ${join(dir, 'rebooted')}" --heartbeat-interval 300ms\n`,
      );
      await chmod(wrapper, 0o755);
      const devices = join(dir, 'devices.json');
      await writeFile(devices, JSON.stringify([{ ID: 'loopback-1', Addr: sshd.addresses[0], Location: 'loopback' }]));
      const shepherd = spawnBmaas([
        'shepherd',
        '--provider', 'mini',
        '--mini-device-list', `file://${devices}`,
        '--bmdb-url', db.url('shepherd'),
        '--agent-executable-path', wrapper,
        '--agent-target-path', join(dir, 'uploaded-agent'),
        '--agent-endpoint', endpoint,
        '--agent-endpoint-ca-certificate-path', join(dir, 'certs', 'ca.der'),
        '--ssh-user', sshd.user,
        '--ssh-key-path', join(dir, 'id_ed25519'),
        '--agent-ssh-connect-timeout', '5s',
        '--provisioner-reconciler-rate', '200ms,1',
        '--provisioner-device-creation-rate', '10ms,5',
        '--initializer-db-query-rate', '50ms,8',
      ]);
      procs.push(shepherd);

      const client = new pg.Client({ connectionString: db.adminUrl });
      await client.connect();
      try {
        const one = async (sql: string, params: unknown[] = []) => {
          try {
            return (await client.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
          } catch {
            return undefined; // the schema may not exist yet
          }
        };
        const logs = () => `shepherd:\n${shepherd.stderr().slice(-2000)}\nserver:\n${server.stderr().slice(-2000)}`;
        await waitFor(`a heartbeat (${logs()})`, async () => (await one('SELECT 1 FROM machine_agent_heartbeat')) !== undefined, 60_000, 100);
        const machineId = (await one('SELECT machine_id FROM machine_agent_heartbeat'))!.machine_id as string;
        const t1 = (await one('SELECT agent_heartbeat_at FROM machine_agent_heartbeat'))!.agent_heartbeat_at as Date;
        await waitFor('the heartbeat time to advance', async () => ((await one('SELECT agent_heartbeat_at FROM machine_agent_heartbeat'))!.agent_heartbeat_at as Date) > t1, 10_000, 100);

        const hw = await one('SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1', [machineId]);
        assert.ok(hw, 'hardware report stored');
        const report = decodeMessage(AgentHardwareReportSchema, new Uint8Array(hw.hardware_report_raw as Buffer));
        assert.ok((report.report?.cpu.length ?? 0) > 0, 'the hardware report lists CPUs');

        const raw = toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation: 42n, type: { case: 'metropolis', value: { bundleUrl: 'https://images.test/os.img', rootDevice: 'vda' } } }));
        await client.query('INSERT INTO machine_os_installation_request (machine_id, generation, os_installation_request_raw) VALUES ($1, 42, $2)', [machineId, Buffer.from(raw)]);
        await waitFor('the installation report', async () => (await one('SELECT 1 FROM machine_os_installation_report WHERE generation = 42')) !== undefined, 20_000, 100);
        assert.equal((await one('SELECT os_installation_result FROM machine_os_installation_report'))!.os_installation_result, 'Success');
        const installs = (await readFile(join(dir, 'installs.jsonl'), 'utf8')).trim().split('\n');
        assert.deepEqual(installs.map((l) => JSON.parse(l) as unknown), [{ generation: '42', kind: 'metropolis', bundleUrl: 'https://images.test/os.img', rootDevice: 'vda' }]);
        await waitFor('the reboot command', () => existsSync(join(dir, 'rebooted')), 10_000);
      } finally {
        await client.end();
      }
      shepherd.child.kill('SIGTERM');
      server.child.kill('SIGTERM');
      assert.equal(await shepherd.exited, 0, shepherd.stderr().slice(-2000));
      assert.equal(await server.exited, 0, server.stderr().slice(-2000));
    });
  });
});
