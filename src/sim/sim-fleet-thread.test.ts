// The simulated fleet in its worker thread: it serves SSH and Redfish as the
// in-process one does, its log lines arrive in the parent's logger at their
// level, reset answers come back on request, and stop() ends the thread.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Secret } from '../lib/secret.ts';
import { generateEd25519KeyPair } from '../lib/ssh-keygen.ts';
import { createBmcDriver } from '../shepherd/bmc/index.ts';
import { NO_FAULTS } from './fault-plan.ts';
import { SimFleetThread, SimFleetWorkerError } from './sim-fleet-thread.ts';

function greeting(address: string): Promise<string> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    socket.once('data', (chunk) => {
      socket.destroy();
      resolve(chunk.toString('latin1'));
    });
    socket.once('error', reject);
  });
}

describe('SimFleetThread', () => {
  let dir: string;
  let fleet: SimFleetThread | undefined;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  );

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-sim-thread-'));
    fleet = await SimFleetThread.start({
      dir,
      machines: 3,
      faults: { ...NO_FAULTS, unreachable: 1 / 3 },
      authorizedKey: generateEd25519KeyPair().public,
      agentEndpoint: '127.0.0.1:9',
      timing: { heartbeatIntervalMs: 1000, silentAfterMs: 60_000, slowSshDelayMs: 0, callTimeoutMs: 1000, backoffMaxMs: 1000, bootDelayMs: 300, bmc: { resetDelayMs: 50, offMs: 150 } },
      logger,
    });
  });
  after(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the machines with the faults of the plan, and serves their SSH and BMCs', async () => {
    const machines = fleet!.list();
    assert.deepEqual(machines.map((m) => m.id), ['sim-0001', 'sim-0002', 'sim-0003']);
    assert.deepEqual(fleet!.faultCounts(), { takeover: 0, silent: 0, unreachable: 1, slowSsh: 0, dead: 0 });
    const healthy = machines.find((m) => fleet!.faultOf(m.id) === 'none')!;
    assert.match(await greeting(healthy.address), /^SSH-2\.0-/);
    const bmc = createBmcDriver({
      driver: 'redfish',
      endpoint: healthy.bmc.endpoint,
      username: healthy.bmc.username,
      password: new Secret((await readFile(healthy.bmc.passwordFile, 'utf8')).trim()),
      tls: { caCertificate: await readFile(fleet!.bmcCaFile, 'utf8') },
      timeouts: { attempts: 1 },
    });
    try {
      assert.equal((await bmc.powerState()).state, 'On');
      assert.deepEqual(fleet!.bmcResetCounts(), []);
      await bmc.reset('GracefulRestart');
      await fleet!.refreshResetCounts();
      assert.deepEqual(fleet!.bmcResetCounts(), [{ resetType: 'GracefulRestart', status: 204, count: 1 }]);
      assert.ok(fleet!.cpuMs! > 0, 'the worker reports the CPU time of its thread');
    } finally {
      await bmc.close();
    }
  });

  it("relays the fleet's log lines with their level and fields", () => {
    const started = lines.find((l) => l.msg === 'simulated fleet started');
    assert.ok(started, JSON.stringify(lines));
    assert.equal(started.level, 30);
    assert.equal(started.machines, 3);
  });

  it('ends the thread on stop(), after which the fleet no longer answers', async () => {
    const address = fleet!.list()[0]!.address;
    await fleet!.stop();
    const why = await fleet!.failed;
    assert.ok(why instanceof SimFleetWorkerError);
    await assert.rejects(greeting(address));
  });

  it('rejects the start, and ends the thread, when the fleet cannot start', async () => {
    const options = { dir, machines: -1, faults: NO_FAULTS, authorizedKey: generateEd25519KeyPair().public, agentEndpoint: '127.0.0.1:9', timing: { heartbeatIntervalMs: 1000, silentAfterMs: 0, slowSshDelayMs: 0, callTimeoutMs: 1000, backoffMaxMs: 1000, bootDelayMs: 0, bmc: { resetDelayMs: 0, offMs: 0 } } };
    await assert.rejects(SimFleetThread.start(options), (err: Error) => err instanceof SimFleetWorkerError && /0 to 10000 machines/.test(err.message));
  });
});
