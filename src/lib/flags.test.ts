// The one flag parser: bounds on every numeric flag, values that start with
// "-", stray positionals, typed defaults and the help text that shows them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationRangeError, DurationSyntaxError, formatDuration, MAX_TIMER_MS, parseDuration } from './duration.ts';
import { formatFlagHelp, formatPerWindow, parseFlags, parsePerWindow, UsageError, type FlagSpec } from './flags.ts';
import { parseRate } from './rate.ts';

const SPECS: readonly FlagSpec[] = [
  { name: 'timeout', type: 'duration', default: 10_000, min: 1, max: 600_000, description: 'a timeout' },
  { name: 'grace', type: 'duration', default: 5_000, min: 0, max: 3_600_000, description: 'a grace' },
  { name: 'workers', type: 'int', default: 1, min: 1, max: 1000, description: 'workers' },
  { name: 'fraction', type: 'float', default: 0.5, min: 0, max: 1, description: 'a fraction' },
  { name: 'rate', type: 'rate', default: { intervalMs: 250, burst: 8 }, description: 'a rate' },
  { name: 'log-file', type: 'string', description: 'a file' },
  { name: 'verbose', type: 'boolean', description: 'chatty' },
];

const usage = (argv: string[]) => assert.throws(() => parseFlags(SPECS, argv, { env: {} }), UsageError);

describe('parseFlags', () => {
  it('takes typed defaults as they are', () => {
    const f = parseFlags(SPECS, [], { env: {} });
    assert.equal(f.number('timeout'), 10_000);
    assert.equal(f.number('workers'), 1);
    assert.deepEqual(f.rate('rate'), { intervalMs: 250, burst: 8 });
  });

  it('refuses zero and negative values below the minimum, naming the bounds', () => {
    assert.throws(() => parseFlags(SPECS, ['--timeout', '0'], { env: {} }), /invalid value for --timeout: must be 1ms to 10m, got 0/);
    assert.throws(() => parseFlags(SPECS, ['--workers', '0'], { env: {} }), /--workers: must be 1 to 1000, got 0/);
    usage(['--fraction', '1.5']);
    assert.equal(parseFlags(SPECS, ['--grace', '0'], { env: {} }).number('grace'), 0);
  });

  it('reads a value that starts with "-" as the value, not as an ambiguous flag', () => {
    assert.throws(() => parseFlags(SPECS, ['--timeout', '-1s'], { env: {} }), /invalid value for --timeout: must be 1ms to 10m, got -1s/);
    assert.throws(() => parseFlags(SPECS, ['--workers', '-5'], { env: {} }), /--workers: must be 1 to 1000, got -5/);
    assert.equal(parseFlags(SPECS, ['--log-file', '-'], { env: {} }).string('log-file'), '-');
  });

  it('refuses values above the maximum (1000h is not a timeout)', () => {
    assert.throws(() => parseFlags(SPECS, ['--grace', '1000h'], { env: {} }), /--grace: must be 0 to 1h, got 1000h/);
    usage(['--workers', '1001']);
  });

  it('refuses what is not a number at all', () => {
    for (const v of ['', '0x10', '1e3', '1.5', 'NaN']) usage(['--workers', v]);
    for (const v of ['', 'abc', 'Infinity']) usage(['--fraction', v]);
  });

  it('checks environment values like command-line ones', () => {
    const specs: FlagSpec[] = [{ name: 'interval', type: 'duration', env: 'X_INTERVAL', min: 1, max: 3_600_000, description: 'x' }];
    assert.throws(() => parseFlags(specs, [], { env: { X_INTERVAL: '600h' } }), /--interval: must be 1ms to 1h, got 600h/);
  });

  it('refuses stray positional arguments unless the command takes them', () => {
    assert.throws(() => parseFlags(SPECS, ['stray'], { env: {} }), /unexpected argument "stray"/);
    assert.deepEqual(parseFlags(SPECS, ['up'], { env: {}, positionals: 1 }).positionals, ['up']);
    assert.throws(() => parseFlags(SPECS, ['up', 'more'], { env: {}, positionals: 1 }), /unexpected argument "more"/);
  });

  it('shows defaults and bounds in --help', () => {
    const help = formatFlagHelp(SPECS);
    assert.match(help, /a timeout \(default 10s; 1ms to 10m\)/);
    assert.match(help, /workers \(default 1; 1 to 1000\)/);
    assert.match(help, /a rate \(default 250ms,8\)/);
  });
});

describe('parseDuration and parseRate bounds', () => {
  it('refuses durations outside the given bounds with DurationRangeError (a DurationSyntaxError)', () => {
    assert.throws(() => parseDuration('600h', { minMs: 1, maxMs: 3_600_000 }), (err: unknown) => err instanceof DurationRangeError && err instanceof DurationSyntaxError);
    assert.throws(() => parseDuration('-1s'), DurationRangeError);
    assert.equal(parseDuration('1m30s'), 90_000);
  });

  it('formats durations so that they parse back', () => {
    for (const ms of [0, 1, 250, 1500, 90_000, 3_600_000, MAX_TIMER_MS]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });

  it('keeps rate intervals within what a timer can wait', () => {
    assert.throws(() => parseRate('600h,1'), /out of range/);
    assert.throws(() => parseRate('0,1'), /out of range/);
    assert.throws(() => parseRate('1s,0'), /count must be/);
  });
});

describe('parsePerWindow', () => {
  it('reads a share or a count per window and formats it back', () => {
    assert.deepEqual(parsePerWindow('5%/10m'), { kind: 'share', share: 0.05, windowMs: 600_000 });
    assert.deepEqual(parsePerWindow('12.5%/1h'), { kind: 'share', share: 0.125, windowMs: 3_600_000 });
    assert.deepEqual(parsePerWindow('20 / 30s'), { kind: 'count', count: 20, windowMs: 30_000 });
    for (const text of ['5%/10m', '12.5%/1h', '20/30s', '0/1s']) assert.equal(formatPerWindow(parsePerWindow(text)), text);
  });

  it('refuses what is not a limit per window', () => {
    for (const text of ['', '5%', '/10m', '5%/', '101%/1m', '2.5/1m', '5/500ms', '-1/1m', '5%/10x', '5%%/1m']) {
      assert.throws(() => parsePerWindow(text), UsageError, text);
    }
  });
});
