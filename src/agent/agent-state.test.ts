import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { readAgentState, STATE_FILE, writeAgentState, type AgentState } from './agent-state.ts';

const STATE: AgentState = { machineId: 'm-1', endpoint: '127.0.0.1:8080', caCertificate: new Uint8Array([1]), privateKeyPem: 'PEM' };

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(sink), lines };
}

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('agent state modes', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function looseDir(): Promise<string> {
    const base = await mkdtemp(path.join(os.tmpdir(), 'bmaas-agent-state-'));
    dirs.push(base);
    const dir = path.join(base, 'state');
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755); // whatever the umask
    return dir;
  }

  it('a new directory is created 0700 and nothing is logged', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'bmaas-agent-state-'));
    dirs.push(base);
    const { logger, lines } = capture();
    await writeAgentState(path.join(base, 'new'), STATE, { logger });
    assert.equal(await modeOf(path.join(base, 'new')), 0o700);
    assert.equal(lines.length, 0);
  });

  it('an existing 0755 directory is tightened to 0700 on write, and that is logged', async () => {
    const dir = await looseDir();
    const { logger, lines } = capture();
    await writeAgentState(dir, STATE, { logger });
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(path.join(dir, STATE_FILE)), 0o600);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['level'], 40);
    assert.deepEqual([lines[0]!['path'], lines[0]!['mode'], lines[0]!['newMode']], [dir, '0755', '0700']);
  });

  it('the daemon reading a loosened directory and file tightens both, and logs each', async () => {
    const dir = await looseDir();
    await writeAgentState(dir, STATE);
    await chmod(dir, 0o755);
    await chmod(path.join(dir, STATE_FILE), 0o644);
    const { logger, lines } = capture();
    assert.equal((await readAgentState(dir, { logger })).machineId, 'm-1');
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(path.join(dir, STATE_FILE)), 0o600);
    assert.deepEqual(lines.map((l) => l['mode']), ['0755', '0644']);
    assert.equal((await readAgentState(dir, { logger })).machineId, 'm-1');
    assert.equal(lines.length, 2, 'nothing more to tighten');
  });
});
