// The agent executable the shepherd uploads: the given path, else the built
// artifact, else an error that says how to get one.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentExecutableError, BUILT_AGENT_PATH, resolveAgentExecutable } from './agent-executable.ts';

describe('resolveAgentExecutable', () => {
  let dir: string;
  let built: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bmaas-agent-exe-'));
    built = path.join(dir, 'bmaas-agent');
    await writeFile(built, '#!/bin/sh\n', { mode: 0o755 });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to dist/bmaas-agent at the package root', () => {
    assert.equal(BUILT_AGENT_PATH, path.resolve(import.meta.dirname, '..', '..', 'dist', 'bmaas-agent'));
  });

  it('uses the built artifact when no path is given', async () => {
    assert.equal(await resolveAgentExecutable(undefined, { builtAgentPath: built }), built);
    assert.equal(await resolveAgentExecutable('', { builtAgentPath: built }), built);
  });

  it('prefers the given path over the built artifact', async () => {
    const other = path.join(dir, 'other-agent');
    await writeFile(other, '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(await resolveAgentExecutable(other, { builtAgentPath: built }), other);
  });

  it('without a path and without a build, says how to build it', async () => {
    const missing = path.join(dir, 'dist', 'bmaas-agent');
    await assert.rejects(resolveAgentExecutable(undefined, { builtAgentPath: missing }), (err: unknown) => {
      assert.ok(err instanceof AgentExecutableError);
      assert.equal(err.reason, 'not-built');
      assert.match(err.message, /npm run build:agent/);
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
  });

  it('refuses a given path it cannot read, even when the artifact is built', async () => {
    await assert.rejects(resolveAgentExecutable(path.join(dir, 'nope'), { builtAgentPath: built }), (err: unknown) => err instanceof AgentExecutableError && err.reason === 'unreadable' && /cannot read/.test(err.message));
  });
});
