import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { describeIpmiSim, startIpmiSim, type IpmiSim } from '../../../test/ipmi-sim.ts';
import { checkedPowerCycle, checkedRestart } from './checked-power.ts';
import { BmcConnectionError, ResetTypeNotAllowedError } from './errors.ts';
import { IpmiDriver, parseIpmiEndpoint } from './ipmi-driver.ts';
import type { BmcOptions } from './types.ts';

const redacted = (value: string) => ({ reveal: () => value, toString: () => '[redacted]', toJSON: () => '[redacted]' });

it('parses IPMI endpoints with the default port 623', () => {
  assert.deepEqual(parseIpmiEndpoint('10.0.1.11'), { host: '10.0.1.11', port: 623 });
  assert.deepEqual(parseIpmiEndpoint('bmc-1:6230'), { host: 'bmc-1', port: 6230 });
  assert.deepEqual(parseIpmiEndpoint('[fd00::1]:624'), { host: 'fd00::1', port: 624 });
  assert.throws(() => parseIpmiEndpoint('bmc:99999'), /bad port/);
});

describeIpmiSim('IPMI driver against ipmi_sim', () => {
  let sim: IpmiSim;
  let argvLog: string;
  let options: BmcOptions;

  before(async () => {
    sim = await startIpmiSim();
    // A wrapper that records ipmitool's command line, to prove the password is not on it.
    argvLog = join(sim.dir, 'argv.log');
    const wrapper = join(sim.dir, 'ipmitool-wrapper.sh');
    await writeFile(wrapper, `#!/bin/sh\necho "$@" >> '${argvLog}'\nexec /usr/bin/ipmitool "$@"\n`);
    await chmod(wrapper, 0o700);
    options = { driver: 'ipmi', endpoint: sim.endpoint, username: sim.username, password: redacted(sim.password), ipmi: { ipmitool: wrapper } };
  });
  after(async () => {
    await sim?.stop();
  });

  it('reads the power state and power-cycles with checked actions', async () => {
    const driver = new IpmiDriver(options);
    assert.deepEqual(await driver.powerState(), { state: 'On', raw: 'Chassis Power is on' });
    const cycle = await checkedPowerCycle(driver, { pollIntervalMs: 100, confirmTimeoutMs: 10_000 });
    assert.deepEqual(cycle.issued, ['ForceOff', 'On']);
    assert.deepEqual(cycle.observed, ['On', 'Off', 'On']);
    const log = await sim.chassisLog();
    assert.ok(log.includes('set power 0') && log.includes('set power 1'), log.join('; '));
  });

  it('confirms a PowerCycle restart by seeing power go off and come back (ipmi_sim turns it on a second later)', async () => {
    const driver = new IpmiDriver(options);
    const result = await checkedRestart(driver, 'PowerCycle', { pollIntervalMs: 100, confirmTimeoutMs: 10_000 });
    assert.deepEqual(result.observed, ['On', 'Off', 'On']);
  });

  it('maps reset types onto chassis power commands and refuses GracefulRestart', async () => {
    const driver = new IpmiDriver(options);
    await driver.reset('GracefulShutdown');
    assert.equal((await driver.powerState()).state, 'Off');
    await driver.reset('On');
    await driver.reset('ForceRestart');
    assert.ok((await sim.chassisLog()).includes('set reset 1'));
    await assert.rejects(driver.reset('GracefulRestart'), ResetTypeNotAllowedError);
  });

  it('never puts the password on the command line or in an error', async () => {
    const argv = await readFile(argvLog, 'utf8');
    assert.ok(argv.includes('-E') && !argv.includes(sim.password), argv);
    const wrong = new IpmiDriver({ ...options, password: redacted('not-the-password'), timeouts: { requestMs: 8000 } });
    const err = await wrong.powerState().then(
      () => assert.fail('a wrong password was accepted'),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof BmcConnectionError, String(err));
    assert.ok(!err.message.includes('not-the-password') && !err.message.includes(sim.password), err.message);
  });

  it('kills ipmitool when the caller aborts', async () => {
    // Nothing answers on this port, so ipmitool would retry for seconds.
    const silent = new IpmiDriver({ ...options, endpoint: `127.0.0.1:${sim.port + 1}` });
    const started = Date.now();
    await assert.rejects(silent.powerState({ signal: AbortSignal.timeout(300) }), /aborted/);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });
});
