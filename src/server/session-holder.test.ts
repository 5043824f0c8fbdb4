// The server's one BMDB session dies (deleted by another instance's collector,
// or its deadline passed while the server stalled): the next heartbeat must
// still succeed, on exactly one fresh session.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeBmdb } from '../../test/bmdb.ts';
import { callHeartbeat, enrolAgent, heartbeatAt, useTestServer } from '../../test/agent-harness.ts';
import { clientCertificate } from '../agent/agent-identity.ts';

describeBmdb('server BMDB session replacement', ({ open }) => {
  const t = useTestServer(open);

  async function liveServerSessions(): Promise<string[]> {
    const r = await t.bmdb.driver.query("SELECT session_id FROM sessions WHERE session_component_name = 'bmsrv' AND session_deadline > now() ORDER BY session_id");
    return r.rows.map((row) => row.session_id as string);
  }

  async function beat(agent: { machineId: string; key: Parameters<typeof clientCertificate>[0] }): Promise<Date> {
    const before = await heartbeatAt(t.bmdb, agent.machineId);
    await callHeartbeat(t.srv, await clientCertificate(agent.key, agent.machineId), { machineId: agent.machineId });
    const at = await heartbeatAt(t.bmdb, agent.machineId);
    assert.ok(at, 'heartbeat recorded');
    if (before) assert.ok(at >= before, 'heartbeat time did not go back');
    return at;
  }

  it('starts one session with the first call', async () => {
    assert.deepEqual(await liveServerSessions(), []);
    await beat(await enrolAgent(t.bmdb));
    assert.equal((await liveServerSessions()).length, 1);
  });

  // Two ways a session dies under a server: another instance's collector
  // deletes it, or its deadline passes while the server stalls.
  const deaths: Array<[string, string]> = [
    ['was deleted', 'DELETE FROM sessions WHERE session_id = $1'],
    ['ran past its deadline', "UPDATE sessions SET session_deadline = now() - interval '1 minute' WHERE session_id = $1"],
  ];
  for (const [what, sql] of deaths) {
    it(`replaces a session that ${what}`, async () => {
      const agent = await enrolAgent(t.bmdb);
      await beat(agent);
      const [old] = await liveServerSessions();
      assert.ok(old);
      await t.bmdb.driver.query(sql, [old]);
      await beat(agent);
      const now = await liveServerSessions();
      assert.equal(now.length, 1, `sessions: ${now.join(', ')}`);
      assert.notEqual(now[0], old);
    });
  }

  it('concurrent calls on a dead session all succeed and share one new session', async () => {
    const agents = await Promise.all(Array.from({ length: 5 }, () => enrolAgent(t.bmdb)));
    await beat(agents[0]!);
    const [old] = await liveServerSessions();
    await t.bmdb.driver.query('DELETE FROM sessions WHERE session_id = $1', [old]);
    await Promise.all(agents.map((a) => beat(a)));
    const now = await liveServerSessions();
    assert.equal(now.length, 1, `sessions: ${now.join(', ')}`);
    assert.notEqual(now[0], old);
  });
});
