// The simulated fleet's BMCs, driven by the real Redfish driver the way the
// `mini` provider does: each machine has its own credentials, a reset really
// takes the machine down (SSH refused) and up again after the boot delay, a
// `dead` machine never powers on again, and all of it survives a restart.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret } from '../lib/secret.ts';
import { generateEd25519KeyPair } from '../lib/ssh-keygen.ts';
import { BmcAuthError, createBmcDriver, type BmcDriver, type PowerState } from '../shepherd/bmc/index.ts';
import { NO_FAULTS } from './fault-plan.ts';
import { SimFleet, type SimFleetMachine, type SimFleetOptions } from './sim-fleet.ts';

/** Whether sshd answers: it greets with its version line; a machine that is off or booting resets the connection. */
function sshAnswers(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('SSH-2.0-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.setTimeout(2000, () => done(false));
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('simulated fleet BMCs', () => {
  let dir: string;
  let fleet: SimFleet | undefined;
  const drivers: BmcDriver[] = [];
  const options = (): SimFleetOptions => ({
    dir,
    machines: 2,
    faults: { ...NO_FAULTS, dead: 0.5 },
    authorizedKey: generateEd25519KeyPair().public,
    agentEndpoint: '127.0.0.1:9',
    timing: { heartbeatIntervalMs: 1000, silentAfterMs: 60_000, slowSshDelayMs: 0, callTimeoutMs: 1000, backoffMaxMs: 1000, bootDelayMs: 300, bmc: { resetDelayMs: 50, offMs: 150 } },
  });
  async function driverFor(m: SimFleetMachine, password?: string): Promise<BmcDriver> {
    const d = createBmcDriver({
      driver: 'redfish',
      endpoint: m.bmc.endpoint,
      username: m.bmc.username,
      password: new Secret(password ?? (await readFile(m.bmc.passwordFile, 'utf8')).trim()),
      tls: { caCertificate: await readFile(fleet!.bmcCaFile, 'utf8') },
      timeouts: { attempts: 1 },
    });
    drivers.push(d);
    return d;
  }
  const power = async (d: BmcDriver): Promise<PowerState> => (await d.powerState()).state;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-sim-fleet-'));
    fleet = await SimFleet.start(options());
  });
  after(async () => {
    for (const d of drivers) await d.close().catch(() => {});
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const machine = (fault: 'none' | 'dead') => fleet!.list().find((m) => fleet!.faultOf(m.id) === fault)!;

  it('gives every machine its own credentials in a 0600 file, and refuses other ones', async () => {
    const [a, b] = fleet!.list();
    assert.notEqual((await readFile(a!.bmc.passwordFile, 'utf8')).trim(), (await readFile(b!.bmc.passwordFile, 'utf8')).trim());
    for (const m of [a!, b!]) assert.equal((await stat(m.bmc.passwordFile)).mode & 0o777, 0o600);
    const wrong = await driverFor(a!, (await readFile(b!.bmc.passwordFile, 'utf8')).trim());
    await assert.rejects(wrong.powerState(), BmcAuthError);
    assert.equal(await power(await driverFor(a!)), 'On');
  });

  it('restarts a machine for real: accepted at once, then off with SSH refused, then on with SSH back after the boot delay', async () => {
    const m = machine('none');
    const d = await driverFor(m);
    assert.equal(await sshAnswers(m.address), true);
    await d.reset('ForceRestart');
    assert.equal(await power(d), 'On', 'the reset takes effect later, not while the request is answered');
    await until('power off', async () => (await power(d)) === 'Off');
    assert.equal(await sshAnswers(m.address), false, 'a machine that is off refuses SSH');
    await until('power on', async () => (await power(d)) === 'On');
    assert.equal(await sshAnswers(m.address), false, 'SSH is still booting right after power on');
    await until('SSH back', () => sshAnswers(m.address));
  });

  it('never powers a dead machine on again after its first reset', async () => {
    const m = machine('dead');
    const d = await driverFor(m);
    await d.reset('GracefulRestart');
    await until('power off', async () => (await power(d)) === 'Off');
    await d.reset('On');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await power(d), 'Off');
    assert.equal(await sshAnswers(m.address), false);
  });

  it('counts the reset requests by type and answer over the fleet', () => {
    assert.deepEqual(fleet!.bmcResetCounts(), [
      { resetType: 'ForceRestart', status: 204, count: 1 },
      { resetType: 'GracefulRestart', status: 204, count: 1 },
      { resetType: 'On', status: 204, count: 1 },
    ]);
  });

  it('keeps passwords and power across a restart of the fleet', async () => {
    const before = fleet!.list();
    const passwords = await Promise.all(before.map(async (m) => readFile(m.bmc.passwordFile, 'utf8')));
    await fleet!.stop();
    fleet = await SimFleet.start(options());
    const afterRestart = fleet.list();
    assert.deepEqual(await Promise.all(afterRestart.map(async (m) => readFile(m.bmc.passwordFile, 'utf8'))), passwords);
    assert.equal(await power(await driverFor(machine('dead'))), 'Off', 'the dead machine is still off');
    assert.equal(await power(await driverFor(machine('none'))), 'On');
    assert.equal(await sshAnswers(machine('none').address), true);
  });
});
