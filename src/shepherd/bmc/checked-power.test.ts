import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeRedfishBmc } from '../../sim/redfish-bmc.ts';
import { checkedPowerCycle, checkedRestart, PowerStateInTransitionError } from './checked-power.ts';
import { PowerActionNotConfirmedError, PowerStateUnreadableError } from './errors.ts';
import { RedfishDriver } from './redfish-driver.ts';
import type { BmcDriver, PowerReading, ResetType } from './types.ts';

const FAST = { pollIntervalMs: 50, confirmTimeoutMs: 3000 };

/** A BMC whose answers the test scripts: the readings in order (the last repeats), and the resets it got. */
function scriptedBmc(readings: Array<PowerReading | Error>): BmcDriver & { resets: ResetType[] } {
  const resets: ResetType[] = [];
  let i = 0;
  return {
    endpoint: 'scripted-bmc',
    resets,
    powerState: () => {
      const r = readings[Math.min(i++, readings.length - 1)]!;
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    reset: (type) => {
      resets.push(type);
      return Promise.resolve();
    },
    allowedResets: () => Promise.resolve(['GracefulRestart', 'ForceRestart', 'ForceOff', 'On']),
    close: () => Promise.resolve(),
  };
}

async function withRedfish(opts: { resetDelayMs?: number; offMs?: number; initialPower?: 'On' | 'Off' }, fn: (bmc: FakeRedfishBmc, driver: RedfishDriver) => Promise<void>) {
  const bmc = await new FakeRedfishBmc({ username: 'admin', password: 'pw', ...opts }).start();
  const driver = new RedfishDriver({ driver: 'redfish', endpoint: bmc.endpoint, username: 'admin', password: { reveal: () => 'pw' }, tls: { fingerprint: bmc.certificate.fingerprint } });
  try {
    await fn(bmc, driver);
  } finally {
    await driver.close();
    await bmc.stop();
  }
}

describe('checked power actions: no action on an unreadable state', () => {
  it('does nothing when the BMC reports the power state as unknown', async () => {
    const bmc = scriptedBmc([{ state: 'Unknown', raw: 'Paused' }]);
    await assert.rejects(checkedRestart(bmc, 'ForceRestart', FAST), (err: Error) => err instanceof PowerStateUnreadableError && /unknown \("Paused"\)/.test(err.message));
    await assert.rejects(checkedPowerCycle(bmc, FAST), PowerStateUnreadableError);
    assert.deepEqual(bmc.resets, []);
  });

  it('sends no reset to a Redfish BMC that answers PowerState null', () =>
    withRedfish({}, async (bmc, driver) => {
      bmc.reportedPowerState = null;
      await assert.rejects(checkedRestart(driver, 'ForceRestart', FAST), /reports the power state as unknown \("null"\)/);
      await assert.rejects(checkedPowerCycle(driver, FAST), PowerStateUnreadableError);
      assert.deepEqual(bmc.resets, []);
      assert.equal(bmc.requests.filter((r) => r.startsWith('POST')).length, 0);
    }));

  it('does nothing when the power state cannot be read, with the read error as the cause', async () => {
    const down = new Error('connect ECONNREFUSED');
    const bmc = scriptedBmc([down]);
    await assert.rejects(checkedRestart(bmc, 'GracefulRestart', FAST), (err: Error) => err instanceof PowerStateUnreadableError && err.cause === down);
    assert.deepEqual(bmc.resets, []);
  });

  it('does nothing while the machine is between two states', async () => {
    const bmc = scriptedBmc([{ state: 'PoweringOff', raw: 'PoweringOff' }]);
    await assert.rejects(checkedRestart(bmc, 'ForceRestart', FAST), PowerStateInTransitionError);
    assert.deepEqual(bmc.resets, []);
  });
});

describe('checked restart', () => {
  it('waits for the asynchronous reset: Off, then On, and returns what it saw', () =>
    withRedfish({ resetDelayMs: 300, offMs: 300 }, async (bmc, driver) => {
      const result = await checkedRestart(driver, 'GracefulRestart', FAST);
      assert.deepEqual(result.issued, ['GracefulRestart']);
      assert.equal(result.observed[0], 'On');
      assert.ok(result.observed.includes('Off'), result.observed.join(' → '));
      assert.equal(result.observed.at(-1), 'On');
      assert.ok(result.durationMs >= 600, `${result.durationMs} ms`);
      assert.deepEqual(bmc.resets.map((r) => r.resetType), ['GracefulRestart']);
    }));

  it('fails with the observed states when the BMC never shows the reset', () =>
    withRedfish({ resetDelayMs: 60_000 }, async (bmc, driver) => {
      const err = await checkedRestart(driver, 'ForceRestart', { pollIntervalMs: 50, confirmTimeoutMs: 400 }).then(
        () => assert.fail('an invisible reset was called done'),
        (e: unknown) => e as PowerActionNotConfirmedError,
      );
      assert.ok(err instanceof PowerActionNotConfirmedError, String(err));
      assert.deepEqual(err.observed, ['On']);
      assert.match(err.message, /ForceRestart .* not confirmed within 400 ms: waited for On after a visible reset, observed On/);
      assert.equal(bmc.resets.length, 1);
    }));

  it('fails with the observed states when the machine goes off and stays off', async () => {
    const bmc = scriptedBmc([{ state: 'On', raw: 'On' }, { state: 'PoweringOff', raw: 'PoweringOff' }, { state: 'Off', raw: 'Off' }]);
    const err = await checkedRestart(bmc, 'ForceRestart', { pollIntervalMs: 20, confirmTimeoutMs: 200 }).catch((e: unknown) => e as PowerActionNotConfirmedError);
    assert.ok(err instanceof PowerActionNotConfirmedError);
    assert.deepEqual(err.observed, ['On', 'PoweringOff', 'Off']);
  });

  it('accepts a warm reset that stays On when LastResetTime moved', async () => {
    const bmc = scriptedBmc([
      { state: 'On', raw: 'On', lastReset: '2026-01-01T00:00:00Z' },
      { state: 'On', raw: 'On', lastReset: '2026-01-01T00:00:00Z' },
      { state: 'On', raw: 'On', lastReset: '2026-01-01T00:05:00Z' },
    ]);
    const result = await checkedRestart(bmc, 'ForceRestart', FAST);
    assert.deepEqual(result.observed, ['On']);
    assert.deepEqual(bmc.resets, ['ForceRestart']);
  });

  it('keeps polling through a failed read while waiting, and records it', async () => {
    const bmc = scriptedBmc([{ state: 'On', raw: 'On' }, new Error('503 busy'), { state: 'Off', raw: 'Off' }, { state: 'On', raw: 'On' }]);
    const result = await checkedRestart(bmc, 'ForceRestart', FAST);
    assert.deepEqual(result.observed, ['On', 'error: 503 busy', 'Off', 'On']);
  });

  it('powers on a machine that is off instead of restarting it', () =>
    withRedfish({ initialPower: 'Off', resetDelayMs: 100 }, async (bmc, driver) => {
      const result = await checkedRestart(driver, 'ForceRestart', FAST);
      assert.deepEqual(result.issued, ['On']);
      assert.deepEqual(result.observed, ['Off', 'On']);
      assert.deepEqual(bmc.resets.map((r) => r.resetType), ['On']);
    }));
});

describe('checked power cycle', () => {
  it('is ForceOff, wait for Off, On, wait for On', () =>
    withRedfish({ resetDelayMs: 150 }, async (bmc, driver) => {
      const result = await checkedPowerCycle(driver, FAST);
      assert.deepEqual(result.issued, ['ForceOff', 'On']);
      assert.deepEqual(result.observed, ['On', 'Off', 'On']);
      assert.deepEqual(bmc.resets.map((r) => r.resetType), ['ForceOff', 'On']);
    }));
});
