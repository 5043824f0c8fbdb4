import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { resolveBmdbOptions } from './connection.ts';
import { BmdbConfigError } from './errors.ts';
import { bmdbMetrics } from './metrics.ts';
import { PG_TIMEOUT_DEFAULTS } from './pg-timeouts.ts';
import { DEFAULT_RETRY_POLICY, isRetryable, nextRetryDelayMs, retryDelayMs } from './retry.ts';
import { parseBmdbUrl } from './url.ts';

describe('BMDB URL and options', () => {
  it('accepts postgres, pglite memory and absolute pglite directories', () => {
    assert.deepEqual(parseBmdbUrl('postgres://u:p@localhost:5432/db'), { kind: 'postgres', url: 'postgres://u:p@localhost:5432/db' });
    assert.deepEqual(parseBmdbUrl('postgresql://localhost/db').kind, 'postgres');
    assert.deepEqual(parseBmdbUrl('pglite://memory'), { kind: 'pglite', dataDir: undefined });
    assert.deepEqual(parseBmdbUrl('pglite:///var/lib/bmaas'), { kind: 'pglite', dataDir: '/var/lib/bmaas' });
  });
  it('rejects other schemes and relative pglite paths with a message that names the forms, without the password', () => {
    assert.throws(() => parseBmdbUrl('mysql://root:secret@x/db'), (e: Error) => e instanceof BmdbConfigError && !e.message.includes('secret') && e.message.includes('pglite://memory'));
    assert.throws(() => parseBmdbUrl('pglite://relative/dir'), BmdbConfigError);
  });
  it('fills defaults and rejects bad options once', () => {
    const o = resolveBmdbOptions({});
    assert.equal(o.url, 'pglite://memory');
    assert.equal(o.isolation, 'read committed');
    assert.equal(o.sessionGraceMs, 10_000);
    assert.throws(() => resolveBmdbOptions({ maxConnections: 0 }), /maxConnections/);
    assert.throws(() => resolveBmdbOptions({ isolation: 'chaos' as never }), /isolation/);
  });
  it('bounds a silent PostgreSQL connection by default; the server-side statement timeout stays below the client-side one', () => {
    assert.deepEqual(resolveBmdbOptions({}).pgTimeouts, PG_TIMEOUT_DEFAULTS);
    assert.equal(resolveBmdbOptions({ pgTimeouts: { queryTimeoutMs: 5000, statementTimeoutMs: 4000 } }).pgTimeouts.connectTimeoutMs, PG_TIMEOUT_DEFAULTS.connectTimeoutMs);
    assert.throws(() => resolveBmdbOptions({ pgTimeouts: { statementTimeoutMs: 30_000 } }), /statementTimeoutMs/);
  });
});

describe('transaction retry policy', () => {
  it('retries exactly serialization failures and deadlocks', () => {
    assert.equal(isRetryable({ code: '40001' }), true);
    assert.equal(isRetryable({ code: '40P01' }), true);
    assert.equal(isRetryable({ code: '23505' }), false);
    assert.equal(isRetryable(new Error('x')), false);
  });
  it('waits a jittered, growing, capped delay', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 100, budgetMs: 1000 };
    assert.equal(retryDelayMs(1, policy, () => 1), 5);
    assert.equal(retryDelayMs(3, policy, () => 1), 20);
    assert.equal(retryDelayMs(10, policy, () => 1), 100);
    assert.equal(retryDelayMs(10, policy, () => 0), 0);
  });
  it('stops retrying when the attempts or the time budget are used up', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 100, budgetMs: 1000 };
    assert.equal(nextRetryDelayMs(9, 0, policy, () => 1), 100);
    assert.equal(nextRetryDelayMs(10, 0, policy, () => 1), undefined);
    assert.equal(nextRetryDelayMs(5, 900, policy, () => 1), 80);
    assert.equal(nextRetryDelayMs(5, 950, policy, () => 1), undefined, 'the wait would end past the budget');
    assert.equal(nextRetryDelayMs(5, 950, policy, () => 0), 0);
  });
  it('defaults to many short delays within a time budget, and takes a budget option', () => {
    assert.ok(DEFAULT_RETRY_POLICY.maxDelayMs <= 250);
    assert.ok(DEFAULT_RETRY_POLICY.budgetMs >= 10_000);
    assert.equal(resolveBmdbOptions({ retry: { budgetMs: 500 } }).retry.budgetMs, 500);
    assert.equal(resolveBmdbOptions({}).retry.budgetMs, DEFAULT_RETRY_POLICY.budgetMs);
    assert.throws(() => resolveBmdbOptions({ retry: { budgetMs: -1 } }), /budgetMs/);
  });
});

describe('BMDB metrics', () => {
  it('registers the BMDB counters (docs/architecture.md#metrics) on the given registry, once', async () => {
    const registry = new Registry();
    const m = bmdbMetrics(registry);
    assert.equal(bmdbMetrics(registry), m);
    const names = (await registry.getMetricsAsJSON()).map((x) => x.name).sort();
    assert.deepEqual(names, [
      'bmdb_session_started',
      'bmdb_transaction_executed',
      'bmdb_transaction_failed',
      'bmdb_transaction_retried',
      'bmdb_transaction_retries_exhausted',
      'bmdb_work_finished',
      'bmdb_work_started',
    ]);
  });
});
