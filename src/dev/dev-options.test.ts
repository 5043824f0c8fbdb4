// bmaas dev's pace: small fleets keep the short defaults; large ones
// heartbeat less often (the whole fleet shares one process), recovery
// thresholds follow the interval, and what the user set is kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEV_DEFAULT_FAULTS, DEV_DEFAULTS, DEV_LOOP_SETTINGS, DevOptionsError, devLoopSettings, resolveDevTiming, validateDevOptions, type DevOptions } from './dev-options.ts';
import { summaryPauseMs } from './run-dev.ts';

const { heartbeatIntervalMs: _interval, recovery: _recovery, ...defaults } = DEV_DEFAULTS;
const options = (o: Partial<DevOptions>): DevOptions => ({
  ...defaults,
  faults: DEV_DEFAULT_FAULTS,
  exitWhenConverged: false,
  ...o,
});

describe('resolveDevTiming', () => {
  it('keeps the short defaults for the default fleet', () => {
    const t = resolveDevTiming({ machines: 50 });
    assert.equal(t.heartbeatIntervalMs, 2_000);
    assert.deepEqual(t.recovery, { noHeartbeatAfterStartSeconds: 20, silenceSeconds: 10 });
    assert.equal(t.loop, DEV_LOOP_SETTINGS);
  });

  it('paces a large fleet at 25 heartbeats a second and gives recovery four intervals', () => {
    const t = resolveDevTiming({ machines: 1000 });
    assert.equal(t.heartbeatIntervalMs, 40_000);
    assert.deepEqual(t.recovery, { noHeartbeatAfterStartSeconds: 160, silenceSeconds: 160 });
    assert.equal(t.loop.initializerParallelism, 16);
    assert.equal(t.loop.provisionerChunkSize, 100);
  });

  it('keeps what was given and derives only the rest', () => {
    const t = resolveDevTiming({ machines: 1000, heartbeatIntervalMs: 3_000, recovery: { silenceSeconds: 30 } });
    assert.equal(t.heartbeatIntervalMs, 3_000);
    assert.deepEqual(t.recovery, { noHeartbeatAfterStartSeconds: 20, silenceSeconds: 30 });
  });
});

describe('validateDevOptions', () => {
  it('accepts every fleet size with the derived pace', () => {
    for (const machines of [1, 50, 200, 201, 1000, 10_000]) validateDevOptions(options({ machines }));
  });

  it('refuses a silence threshold shorter than two heartbeat intervals, derived or given', () => {
    assert.throws(() => validateDevOptions(options({ machines: 1000, recovery: { silenceSeconds: 60 } })), DevOptionsError);
    assert.throws(() => validateDevOptions(options({ heartbeatIntervalMs: 6_000, recovery: { silenceSeconds: 10 } })), DevOptionsError);
  });
});

describe('devLoopSettings', () => {
  it('enrols 1,000 machines within about 10 s rather than 40', () => {
    const s = devLoopSettings(1000);
    const perSecond = (s.provisionerChunkSize * 1000) / s.provisionerReconcileRate.intervalMs;
    assert.ok(perSecond >= 100, `${perSecond} machines/s`);
  });
});

describe('summaryPauseMs', () => {
  it('reads 4 times a second while reading is cheap, and spends at most 5 % of the time reading', () => {
    assert.equal(summaryPauseMs(2), 250);
    assert.equal(summaryPauseMs(50), 950);
    assert.equal(summaryPauseMs(10_000), 2_000);
  });
});
