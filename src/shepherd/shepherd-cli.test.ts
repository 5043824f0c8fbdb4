// `bmaas shepherd` as an operator runs it: flag and device list mistakes are
// one-line errors with exit code 2, before anything starts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILT_AGENT_PATH } from './agent-executable.ts';
import { runBmaas as run } from './testing/index.ts';

const runBmaas = (args: string[]) => run(['shepherd', ...args]);

describe('bmaas shepherd refuses bad input with exit code 2', () => {
  let dir: string;
  let base: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-shepherd-cli-'));
    await writeFile(join(dir, 'agent'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(dir, 'password'), 'hunter2\n');
    base = ['--provider', 'mini', '--bmdb-url', 'pglite://memory', '--agent-executable-path', join(dir, 'agent'), '--agent-endpoint', '127.0.0.1:4433', '--ssh-user', 'root'];
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function withList(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return `file://${path}`;
  }

  const lists: Array<[string, string, RegExp]> = [
    ['an unknown field', '[{"ID":"a","Addr":"127.0.0.1"},{"ID":"b","Addr":"127.0.0.2","Locaton":"x"}]', /entry 1 \(ID "b"\): unknown field\(s\) "Locaton"/],
    ['a duplicate ID', '[{"ID":"a","Addr":"127.0.0.1"},{"ID":"a","Addr":"127.0.0.2"}]', /entry 1 \(ID "a"\): duplicate ID, also used by entry 0/],
    ['a bad address', '[{"ID":"a","Addr":"127.0.0.1:ssh"}]', /entry 0 \(ID "a"\): Addr "127\.0\.0\.1:ssh" is not host\[:port\]/],
    ['an empty list', '[]', /is empty/],
  ];
  for (const [what, content, pattern] of lists) {
    it(`a device list with ${what} names the entry`, async () => {
      const url = await withList(`${what.replaceAll(' ', '-')}.json`, content);
      const r = await runBmaas([...base, '--ssh-password-file', join(dir, 'password'), '--mini-device-list', url]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /^bmaas shepherd: /m);
    });
  }

  it('an unreadable --agent-executable-path is a usage error', async () => {
    const url = await withList('ok.json', '[{"ID":"a","Addr":"127.0.0.1"}]');
    const r = await runBmaas([...base, '--mini-device-list', url, '--ssh-password-file', join(dir, 'password'), '--agent-executable-path', join(dir, 'no-agent')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid value for --agent-executable-path: cannot read/);
  });

  it('without --agent-executable-path, takes dist/bmaas-agent when built and otherwise says to build it', async () => {
    const url = await withList('ok.json', '[{"ID":"a","Addr":"127.0.0.1"}]');
    // No --agent-endpoint either: past the agent check, that is the next error.
    const builtBefore = existsSync(BUILT_AGENT_PATH);
    const r = await runBmaas(['--provider', 'mini', '--mini-device-list', url, '--ssh-user', 'root']);
    const builtAfter = existsSync(BUILT_AGENT_PATH);
    assert.equal(r.code, 2, r.stderr);
    const defaultTaken = /--agent-endpoint is required/.test(r.stderr);
    const buildHint = /no agent executable: .*dist\/bmaas-agent is not built; run `npm run build:agent` or pass --agent-executable-path/.test(r.stderr);
    assert.ok(defaultTaken || buildHint, r.stderr);
    // Another test file may build the artifact meanwhile; judge only a steady state.
    if (builtBefore === builtAfter) assert.equal(defaultTaken, builtBefore, r.stderr);
  });

  it('a missing device list file is a usage error', async () => {
    const r = await runBmaas([...base, '--ssh-password-file', join(dir, 'password'), '--mini-device-list', `file://${dir}/nope.json`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /could not read device list/);
  });

  it('both --ssh-key-path and --ssh-password-file is a usage error', async () => {
    const url = await withList('ok.json', '[{"ID":"a","Addr":"127.0.0.1"}]');
    const r = await runBmaas([...base, '--mini-device-list', url, '--ssh-password-file', join(dir, 'password'), '--ssh-key-path', join(dir, 'key')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /either --ssh-key-path or --ssh-password-file, not both/);
  });

  it('a missing required flag and a bad rate are usage errors', async () => {
    const url = await withList('ok.json', '[{"ID":"a","Addr":"127.0.0.1"}]');
    const missing = await runBmaas(['--provider', 'mini', '--mini-device-list', url, '--agent-executable-path', join(dir, 'agent')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--agent-endpoint is required/);
    const badRate = await runBmaas([...base, '--mini-device-list', url, '--ssh-password-file', join(dir, 'password'), '--initializer-db-query-rate', 'fast']);
    assert.equal(badRate.code, 2);
    assert.match(badRate.stderr, /invalid value for --initializer-db-query-rate/);
    assert.equal(badRate.stderr.trim().split('\n').length, 1, 'one line');
  });
});
