// The fake BMC's busy mode: a share of requests answered 503 at random (what
// `bmaas dev --fault-bmc-503` turns on), which the Redfish driver retries, and
// the reset requests counted by their answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret } from '../lib/secret.ts';
import { createBmcDriver } from '../shepherd/bmc/index.ts';
import { FakeRedfishBmc } from './redfish-bmc.ts';

describe('fake Redfish BMC under --fault-bmc-503', () => {
  it('answers the given share of requests 503; the driver retries through them', async () => {
    // Every other request is refused: 0, 1, 0, 1, … against a share of 0.5.
    let n = 0;
    await using bmc = await new FakeRedfishBmc({ username: 'admin', password: 'secret-secret', unavailableShare: 0.5, random: () => n++ % 2, resetDelayMs: 10_000 }).start();
    const driver = createBmcDriver({
      driver: 'redfish',
      endpoint: bmc.endpoint,
      username: 'admin',
      password: new Secret('secret-secret'),
      system: '/redfish/v1/Systems/1',
      tls: { fingerprint: bmc.certificate.fingerprint },
      timeouts: { attempts: 4, backoffInitialMs: 1, backoffMaxMs: 5 },
    });
    try {
      assert.equal((await driver.powerState()).state, 'On');
      await driver.reset('GracefulRestart');
      const resets = bmc.resetCounts();
      assert.deepEqual(resets.map((c) => [c.resetType, c.status]).sort(), [['GracefulRestart', 204], ['GracefulRestart', 503]]);
      assert.equal(bmc.resets.length, 1, 'only the accepted request counts as a reset');
    } finally {
      await driver.close();
    }
  });
});
