// The cheap convergence check: it says "not yet" only while fewer simulated
// machines have a heartbeat row than have to heartbeat in the end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBmdb } from '../bmdb/index.ts';
import type { Fault } from '../sim/index.ts';
import { heartbeatsNeeded, mayHaveConverged } from './convergence-gate.ts';

describe('convergence gate', () => {
  it('counts the machines that have to heartbeat in the end: healthy, slow SSH and silent ones', () => {
    const faults: Record<string, Fault> = { a: 'none', b: 'slowSsh', c: 'silent', d: 'takeover', e: 'unreachable', f: 'dead' };
    assert.equal(heartbeatsNeeded({ list: () => Object.keys(faults).map((id) => ({ id })), faultOf: (id) => faults[id] }), 3);
  });

  it('says not yet until enough simulated machines have heartbeat rows', async () => {
    await using bmdb = await openBmdb({ url: 'pglite://memory', migrate: true });
    const q = bmdb.queries;
    const signal = new AbortController().signal;
    assert.equal(await mayHaveConverged(bmdb, 0, signal), true, 'a fleet that needs no heartbeats may have converged at any time');
    assert.equal(await mayHaveConverged(bmdb, 2, signal), false);
    for (const [i, provider] of (['Sim', 'Sim', 'None'] as const).entries()) {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider, providerId: `m-${i}` });
      await q.setAgentHeartbeat({ machineId: m.machineId });
      if (i === 0) assert.equal(await mayHaveConverged(bmdb, 2, signal), false, 'one row of two');
    }
    assert.equal(await mayHaveConverged(bmdb, 2, signal), true);
    assert.equal(await mayHaveConverged(bmdb, 3, signal), false, 'rows of other providers do not count');
  });
});
