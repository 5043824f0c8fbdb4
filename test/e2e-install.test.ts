// An image installation end to end with the shippable agent
// (docs/architecture.md#image-installation): the built dist/bmaas-agent is taken over
// by hand (as the initializer would) and heartbeats to a callback server on
// PostgreSQL; `bmaas machines install` writes the request; the agent streams
// the image from an HTTP server (which pauses halfway) onto the target, sends its progress,
// verifies the digest and reports; `bmaas machines show` and webug's machine
// page follow it from pending through installing to done. A wrong digest ends
// failed with the agent's exact error. The target is a loop device when this
// runs as root with losetup (then a mounted filesystem on it is refused too),
// else a loop-back file the agent may write with --install-allow-files.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import { startWebug, type Webug } from '../src/webug/index.ts';
import { decodeTakeoverResponse, encodeTakeoverInit } from '../src/proto/index.ts';
import { runBmaas, waitFor } from '../src/shepherd/testing/index.ts';
import { runTakeover, startTestServerOnPostgres, type PostgresTestServer } from './agent-harness.ts';
import { describePostgres } from './pg.ts';

const ROOT = join(import.meta.dirname, '..');
const ARTIFACT = join(ROOT, 'dist', 'bmaas-agent');
const run = promisify(execFile);

/** A loop device over `file` when we may make one (BMAAS_E2E_INSTALL_TARGET=file asks for the file path even as root). */
async function loopDevice(file: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0 || process.env.BMAAS_E2E_INSTALL_TARGET === 'file') return undefined;
  try {
    await run('mkfs.ext4', ['-V']);
    return (await run('losetup', ['--find', '--show', file])).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Polls until `probe` gives a value. */
async function until<T>(what: string | (() => Promise<string>), probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

describePostgres('image installation end to end', () => {
  let dir: string;
  let srv: PostgresTestServer;
  let webug: Webug;
  let images: http.Server;
  let imageBase: string;
  let backing: string;
  let loop: string | undefined;
  let daemonPid = 0;
  const image = randomBytes(6 * 1024 * 1024 + 123);
  const sha256 = createHash('sha256').update(image).digest('hex');
  let release!: () => void;
  const halfway = new Promise<void>((r) => (release = r));

  before(async () => {
    if (!existsSync(ARTIFACT)) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-agent.ts')], { cwd: ROOT, stdio: 'ignore' });
    dir = await mkdtemp(join(tmpdir(), 'bmaas-e2e-install-'));
    backing = join(dir, 'disk.img');
    await writeFile(backing, Buffer.alloc(16 * 1024 * 1024));
    loop = await loopDevice(backing);
    srv = await startTestServerOnPostgres();
    webug = await startWebug({ bmdb: srv.bmdb, listenAddress: '127.0.0.1:0' });
    // The first download stops halfway until the test has seen `installing`.
    images = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': image.length });
      const half = image.length >> 1;
      res.write(image.subarray(0, half));
      void halfway.then(() => res.end(image.subarray(half)));
    });
    images.listen(0, '127.0.0.1');
    await once(images, 'listening');
    imageBase = `http://127.0.0.1:${(images.address() as { port: number }).port}`;
  });
  after(async () => {
    if (daemonPid > 1) {
      try {
        process.kill(daemonPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    images?.close();
    await webug?.close();
    await srv?.close();
    if (loop) {
      await run('umount', [join(dir, 'mnt')]).catch(() => {});
      await run('losetup', ['--detach', loop]).catch(() => {});
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const bmaas = (...args: string[]) => runBmaas(['machines', ...args, '--bmdb-url', srv.db.url], { timeoutMs: 30_000 });
  const show = async (machineId: string) => {
    const r = await bmaas('show', machineId, '--json');
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { installation: { phase: string; generation: number; summary: string; error: string | null } | null }).installation;
  };
  const page = async (machineId: string) => (await fetch(new URL(`/machines/${machineId}`, webug.url))).text();

  it('request → the built agent streams, verifies and reports → show and webug say done; a wrong digest fails precisely; a mounted target is refused', async (t) => {
    const target = loop ?? backing;
    t.diagnostic(loop ? `target: loop device ${loop} over ${backing}` : `target: loop-back file ${backing} (not root or no losetup)`);

    const machineId = await srv.bmdb.transact('unittest', async (q) => {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: 'None', providerId: 'rack-1' });
      return m.machineId;
    });
    const stateDir = join(dir, 'state');
    const rebooted = join(dir, 'rebooted');
    const res = await runTakeover(
      [ARTIFACT, 'takeover', '--state-dir', stateDir, '--reboot-command', `/bin/touch ${rebooted}`, '--heartbeat-interval', '150ms', ...(loop ? [] : ['--install-allow-files'])],
      {},
      encodeTakeoverInit({ machineId, bmaasEndpoint: srv.endpoint, caCertificate: srv.caCertificate }),
    );
    assert.equal(res.code, 0, res.stderr);
    const response = decodeTakeoverResponse(res.stdout);
    assert.ok(response.result.case === 'success', res.stderr);
    const { key } = response.result.value;
    await srv.bmdb.transact('unittest', (q) => q.setAgentStarted({ machineId, publicKey: key }));
    daemonPid = await until('the daemon pid file', async () => Number((await readFile(join(stateDir, 'agent.pid'), 'utf8').catch(() => '')).trim()) || undefined, 20_000);
    const agentLog = () => readFile(join(stateDir, 'agent.log'), 'utf8').catch(() => '');

    // The request, through the CLI, audited.
    const installed = await bmaas('install', machineId, '--image', `${imageBase}/os.img`, '--sha256', sha256, '--device', target, '--post-install-command', `echo "$BMAAS_TARGET_DEVICE" > ${join(dir, 'post-install.txt')}`, '--reason', 'first install', '--actor', 'e2e');
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /installation request of generation 1 written: image http:\/\/127\.0\.0\.1:\d+\/os\.img \(sha256 [0-9a-f]{64}\) onto /);
    assert.match((await show(machineId))?.phase ?? '', /^(pending|installing)$/);

    const installing = await until(async () => `show to say installing (agent log:\n${await agentLog()})`, async () => {
      const s = await show(machineId);
      return s?.phase === 'installing' ? s : undefined;
    }, 30_000, 100);
    assert.match(installing.summary, /^generation 1 installing: writing [\d.]+ (B|KiB|MiB) of 6\.0 MiB$/);
    assert.match(await page(machineId), /data-phase="installing" data-generation="1">OS installation: <span class="badge busy">installing<\/span> generation 1 installing: writing/);
    release();
    const done = await until(async () => `show to say done (agent log:\n${await agentLog()})`, async () => {
      const s = await show(machineId);
      return s?.phase === 'done' || s?.phase === 'failed' ? s : undefined;
    }, 30_000, 100);
    assert.deepEqual([done.phase, done.summary], ['done', 'generation 1 done'], done.error ?? '');
    assert.match(await page(machineId), /data-phase="done" data-generation="1">OS installation: <span class="badge ok">done<\/span>/);
    const disk = await readFile(backing);
    assert.equal(createHash('sha256').update(disk.subarray(0, image.length)).digest('hex'), sha256, 'the image is on the target');
    assert.equal((await readFile(join(dir, 'post-install.txt'), 'utf8')).trim(), target);
    await waitFor('the reboot after the accepted report', () => existsSync(rebooted), 10_000);
    const history = await bmaas('history', machineId, '--json');
    assert.match(history.stdout, /install by e2e/);

    // A wrong digest: failed, with the agent's exact words, and the start zeroed.
    const wrong = 'ee'.repeat(32);
    assert.equal((await bmaas('install', machineId, '--image', `${imageBase}/os.img`, '--sha256', wrong, '--device', target)).code, 0);
    const failed = await until(async () => `show to say failed (agent log:\n${await agentLog()})`, async () => {
      const s = await show(machineId);
      return s?.generation === 2 && s.phase !== 'pending' && s.phase !== 'installing' ? s : undefined;
    }, 30_000, 100);
    assert.equal(failed.phase, 'failed');
    assert.match(
      failed.error ?? '',
      new RegExp(`^image SHA-256 mismatch: the ${image.length} bytes from http://127\\.0\\.0\\.1:\\d+/os\\.img hash to ${sha256}, the request expects ${wrong}; the first 1048576 bytes of the device were zeroed so it does not boot a partial image$`),
    );
    assert.match(await page(machineId), /data-phase="failed" data-generation="2">OS installation: <span class="badge bad">failed<\/span> generation 2 failed: image SHA-256 mismatch/);

    // A mounted filesystem on the target: refused before anything is written.
    if (!loop) return t.diagnostic('mounted-target refusal: covered by src/agent/installers/image-installer.test.ts (fake /proc and /sys) and loop-device.test.ts (root only)');
    await run('mkfs.ext4', ['-q', loop]);
    await mkdir(join(dir, 'mnt'));
    const mounted = await run('mount', [loop, join(dir, 'mnt')]).then(() => true, (err: Error) => (t.diagnostic(`mounted-target refusal skipped: mount failed (${err.message.split('\n')[0]})`), false));
    if (!mounted) return;
    assert.equal((await bmaas('install', machineId, '--image', `${imageBase}/os.img`, '--sha256', sha256, '--device', loop)).code, 0);
    const refused = await until('show to say failed for generation 3', async () => {
      const s = await show(machineId);
      return s?.generation === 3 && s.phase === 'failed' ? s : undefined;
    }, 30_000, 100);
    assert.equal(refused.error, `refusing to write ${loop}: it holds a mounted filesystem (ext4 ${loop} at ${join(dir, 'mnt')})`);
    await run('umount', [join(dir, 'mnt')]);
  });
});
