import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { FakeRedfishBmc, type FakeRedfishBmcOptions } from '../../sim/redfish-bmc.ts';
import { BmcAuthError, BmcConnectionError, BmcHttpError, BmcSystemSelectionError, ResetTypeNotAllowedError } from './errors.ts';
import { FALLBACK_RESET_TYPES, RedfishDriver } from './redfish-driver.ts';
import type { BmcOptions } from './types.ts';

const PASSWORD = 'correct-horse-battery-staple';
const secret = (value: string) => ({ reveal: () => value, toString: () => '[redacted]', toJSON: () => '[redacted]' });

/** A pino logger at debug level whose lines land in `lines`. */
function capturingLogger() {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { log, lines };
}

async function withBmc(opts: Partial<FakeRedfishBmcOptions>, fn: (bmc: FakeRedfishBmc, options: BmcOptions) => Promise<void>): Promise<void> {
  const bmc = await new FakeRedfishBmc({ username: 'admin', password: PASSWORD, ...opts }).start();
  try {
    const options: BmcOptions = {
      driver: 'redfish',
      endpoint: bmc.endpoint,
      username: 'admin',
      password: secret(PASSWORD),
      tls: { fingerprint: bmc.certificate.fingerprint },
      timeouts: { requestMs: 3000, backoffInitialMs: 20, backoffMaxMs: 2000 },
    };
    await fn(bmc, options);
  } finally {
    await bmc.stop();
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertNoPassword(texts: readonly string[]): void {
  const basic = Buffer.from(`admin:${PASSWORD}`).toString('base64');
  for (const t of texts) assert.ok(!t.includes(PASSWORD) && !t.includes(basic), `a password leaked into: ${t}`);
}

describe('Redfish driver against the fake BMC', () => {
  it('reads PowerState and sees a reset take effect later: accepted at once, Off, then On', () =>
    withBmc({ resetDelayMs: 200, offMs: 200 }, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      assert.equal((await driver.powerState()).state, 'On');
      await driver.reset('ForceRestart');
      assert.equal((await driver.powerState()).state, 'On', 'the BMC applies the reset later, not during the request');
      const seen = new Set<string>();
      const deadline = Date.now() + 3000;
      while (!(seen.has('Off') && seen.size > 1 && (await driver.powerState()).state === 'On') && Date.now() < deadline) {
        seen.add((await driver.powerState()).state);
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.ok(seen.has('Off'), [...seen].join(','));
      assert.deepEqual(bmc.resets.map((r) => r.resetType), ['ForceRestart']);
    }));

  it('takes reset types only from AllowableValues and refuses others without sending them', () =>
    withBmc({ allowedResetTypes: ['On', 'ForceOff', 'ForceRestart'] }, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      assert.deepEqual(await driver.allowedResets(), ['On', 'ForceOff', 'ForceRestart']);
      await assert.rejects(driver.reset('GracefulRestart'), (err: Error) => err instanceof ResetTypeNotAllowedError && /allows On, ForceOff, ForceRestart/.test(err.message));
      assert.equal(bmc.requests.filter((r) => r.startsWith('POST')).length, 0);
    }));

  it('falls back to the five common reset types when the BMC publishes no AllowableValues', () =>
    withBmc({ omitAllowableValues: true }, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      assert.deepEqual(await driver.allowedResets(), FALLBACK_RESET_TYPES);
      await assert.rejects(driver.reset('PowerCycle'), ResetTypeNotAllowedError);
      await driver.reset('GracefulRestart');
      assert.equal(bmc.resets.length, 1);
    }));

  it('fails with BmcAuthError on bad credentials, naming the user but never the password', () =>
    withBmc({}, async (_bmc, options) => {
      const { log, lines } = capturingLogger();
      await using driver = new RedfishDriver({ ...options, password: secret(`${PASSWORD}-wrong`) }, { log });
      const err = await driver.powerState().then(
        () => assert.fail('bad credentials were accepted'),
        (e: unknown) => e as Error,
      );
      assert.ok(err instanceof BmcAuthError, String(err));
      assert.match(err.message, /user admin/);
      assertNoPassword([err.message, String(err.stack), JSON.stringify(err), ...lines]);
    }));

  it('retries 503 and answers once the BMC recovers', () =>
    withBmc({}, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      bmc.failNext(503, 2);
      assert.equal((await driver.powerState()).state, 'On');
      assert.deepEqual(bmc.requests.slice(0, 3), ['GET /redfish/v1', 'GET /redfish/v1', 'GET /redfish/v1']);
    }));

  it('gives up after the attempts are spent, and never retries a 4xx', () =>
    withBmc({}, async (bmc, options) => {
      await using driver = new RedfishDriver({ ...options, timeouts: { ...options.timeouts, attempts: 3 } });
      bmc.failNext(503, 3);
      await assert.rejects(driver.powerState(), (err: Error) => err instanceof BmcHttpError && err.status === 503);
      assert.equal(bmc.requests.length, 3);
      bmc.failNext(400, 2);
      await assert.rejects(driver.powerState(), (err: Error) => err instanceof BmcHttpError && err.status === 400);
      assert.equal(bmc.requests.length, 4);
    }));

  it('bounds every request by its timeout, retries, then fails with a connection error', () =>
    withBmc({ latencyMs: 1500 }, async (bmc, options) => {
      await using driver = new RedfishDriver({ ...options, timeouts: { requestMs: 150, attempts: 2, backoffInitialMs: 10 } });
      const started = Date.now();
      await assert.rejects(driver.powerState(), (err: Error) => err instanceof BmcConnectionError && /no answer within 150 ms/.test(err.message));
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
      await until('both attempts to reach the BMC', () => bmc.requests.length === 2);
    }));

  it('retries a refused connection and then names the endpoint', async () => {
    const bmc = await new FakeRedfishBmc({ username: 'admin', password: PASSWORD }).start();
    const endpoint = bmc.endpoint;
    await bmc.stop();
    await using driver = new RedfishDriver({ driver: 'redfish', endpoint, username: 'admin', password: secret(PASSWORD), tls: 'verify', timeouts: { attempts: 3, backoffInitialMs: 10 } });
    await assert.rejects(driver.powerState(), (err: Error) => err instanceof BmcConnectionError && err.message.includes(endpoint) && /ECONNREFUSED/.test(err.message));
  });

  it('stops waiting when the caller aborts, also between retries', () =>
    withBmc({}, async (bmc, options) => {
      await using driver = new RedfishDriver({ ...options, timeouts: { ...options.timeouts, backoffInitialMs: 5000, backoffMaxMs: 5000 } });
      bmc.failNext(503, 1);
      const started = Date.now();
      await assert.rejects(driver.powerState({ signal: AbortSignal.timeout(200) }));
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    }));

  it('honours Retry-After on 429', () =>
    withBmc({}, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      await driver.powerState();
      bmc.failNext(429, 1, 1);
      const started = Date.now();
      assert.equal((await driver.powerState()).state, 'On');
      assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms, Retry-After said 1 s`);
    }));

  it('sends at most one request at a time to a BMC', () =>
    withBmc({ latencyMs: 30 }, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      const states = await Promise.all(Array.from({ length: 6 }, () => driver.powerState()));
      assert.ok(states.every((s) => s.state === 'On'));
      assert.ok(bmc.requests.length >= 7);
      assert.equal(bmc.maxInFlight, 1);
    }));

  it('sends credentials for the service root when the BMC wants them there too', () =>
    withBmc({ serviceRootNeedsAuth: true }, async (bmc, options) => {
      await using driver = new RedfishDriver(options);
      assert.equal((await driver.powerState()).state, 'On');
      assert.deepEqual(bmc.requests.slice(0, 2), ['GET /redfish/v1', 'GET /redfish/v1']);
    }));

  it('selects the system by @odata.id or Id, and requires one when the BMC has several', () =>
    withBmc({ systems: ['blade-a', 'blade-b'] }, async (bmc, options) => {
      const none = new RedfishDriver(options);
      await assert.rejects(none.powerState(), (err: Error) => err instanceof BmcSystemSelectionError && /exposes 2 systems/.test(err.message));
      await none.close();
      for (const system of ['blade-b', '/redfish/v1/Systems/blade-b']) {
        await using driver = new RedfishDriver({ ...options, system });
        await driver.reset('ForceOff');
      }
      assert.deepEqual(bmc.resets.map((r) => r.system), ['blade-b', 'blade-b']);
      await using missing = new RedfishDriver({ ...options, system: 'blade-c' });
      await assert.rejects(missing.powerState(), /has no system blade-c/);
    }));
});

describe('Redfish sessions', () => {
  it('logs in through SessionService when Basic is refused, reuses the session and deletes it on close', () =>
    withBmc({ requireSessions: true }, async (bmc, options) => {
      const { log, lines } = capturingLogger();
      const driver = new RedfishDriver(options, { log });
      await driver.powerState();
      await driver.reset('GracefulRestart');
      await driver.powerState();
      assert.equal(bmc.sessionsCreated, 1);
      assert.equal(bmc.leakedSessions, 1);
      await driver.close();
      assert.equal(bmc.leakedSessions, 0);
      assertNoPassword(lines);
    }));

  it('leaks no session after an error', () =>
    withBmc({ requireSessions: true }, async (bmc, options) => {
      const driver = new RedfishDriver({ ...options, sessions: true, timeouts: { ...options.timeouts, attempts: 2 } });
      await driver.powerState();
      bmc.failNext(500, 2);
      await assert.rejects(driver.powerState(), BmcHttpError);
      await assert.rejects(driver.reset('Nmi'), ResetTypeNotAllowedError);
      await driver.close();
      assert.equal(bmc.sessionsCreated, 1);
      assert.equal(bmc.leakedSessions, 0);
    }));

  it('leaks no session when the caller aborts during the login', () =>
    withBmc({ requireSessions: true, latencyMs: 150 }, async (bmc, options) => {
      const driver = new RedfishDriver({ ...options, sessions: true });
      const abort = new AbortController();
      const call = driver.powerState({ signal: abort.signal });
      await until('the login request', () => bmc.requests.length >= 1 && bmc.sessionsCreated === 0);
      await new Promise((r) => setTimeout(r, 20));
      abort.abort(new Error('shutting down'));
      await assert.rejects(call);
      await until('the session to be created', () => bmc.sessionsCreated === 1);
      await driver.close();
      assert.equal(bmc.leakedSessions, 0);
    }));
});

describe('Redfish TLS', () => {
  it('refuses a self-signed BMC certificate under "verify" before sending credentials', () =>
    withBmc({}, async (bmc, options) => {
      await using driver = new RedfishDriver({ ...options, tls: 'verify', timeouts: { ...options.timeouts, attempts: 1 } });
      await assert.rejects(driver.powerState(), BmcConnectionError);
      assert.equal(bmc.requests.length, 0);
    }));

  it('accepts the certificate with the right fingerprint pin and refuses a wrong one', () =>
    withBmc({}, async (bmc, options) => {
      const wrongPin = `SHA256:${'00:'.repeat(31)}00`;
      await using pinnedWrong = new RedfishDriver({ ...options, tls: { fingerprint: wrongPin }, timeouts: { ...options.timeouts, attempts: 1 } });
      await assert.rejects(pinnedWrong.powerState(), (err: Error) => err instanceof BmcConnectionError && /pinned fingerprint/.test(err.message));
      assert.equal(bmc.requests.length, 0);
      const hexPin = `sha256:${bmc.certificate.fingerprint.slice(7).replace(/:/g, '').toLowerCase()}`;
      for (const fingerprint of [bmc.certificate.fingerprint, hexPin]) {
        await using pinned = new RedfishDriver({ ...options, tls: { fingerprint } });
        assert.equal((await pinned.powerState()).state, 'On');
      }
    }));

  it('accepts a certificate issued by the configured CA', () =>
    withBmc({}, async (_bmc, options) => {
      await using driver = new RedfishDriver({ ...options, tls: { caCertificate: _bmc.certificate.caPem } });
      assert.equal((await driver.powerState()).state, 'On');
    }));

  it('accepts anything under "insecure", with one warning per BMC', () =>
    withBmc({}, async (_bmc, options) => {
      const { log, lines } = capturingLogger();
      for (let i = 0; i < 2; i++) {
        await using driver = new RedfishDriver({ ...options, tls: 'insecure' }, { log });
        assert.equal((await driver.powerState()).state, 'On');
      }
      assert.equal(lines.filter((l) => l.includes('not verified')).length, 1);
    }));
});
