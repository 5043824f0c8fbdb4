import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MachineState } from '../bmdb/index.ts';
import type { Fault } from '../sim/index.ts';
import { fleetWaits, machineConverged, summarizeFleet } from './fleet-summary.ts';
import { renderSummaryBlock, renderSummaryLine, LiveSummary } from './summary-view.ts';

function state(providerId: string, s: Partial<MachineState> = {}): MachineState {
  return { machineId: `m-${providerId}`, providerId, agentStarted: false, lastHeartbeatAt: null, heartbeating: false, recoveries: 0, backoffs: [], activeWork: [], quarantined: false, ...s };
}
const backoff = (cause: string, active = true) => ({ process: 'ShepherdAgentStart' as const, cause, until: new Date(), active });

describe('fleet summary', () => {
  it('decides per fault what done means', () => {
    assert.equal(machineConverged('none', undefined), 'not in the BMDB yet');
    assert.equal(machineConverged('none', state('a', { agentStarted: true })), 'agent started, no recent heartbeat');
    assert.equal(machineConverged('slowSsh', state('a', { agentStarted: true, heartbeating: true })), undefined);
    assert.match(machineConverged('silent', state('a', { agentStarted: true, heartbeating: true }))!, /waiting for it to go silent/);
    assert.match(machineConverged('silent', state('a', { recoveries: 1 }))!, /recovered; waiting/);
    assert.equal(machineConverged('silent', state('a', { recoveries: 1, agentStarted: true, heartbeating: true })), undefined);
    assert.equal(machineConverged('takeover', state('a')), 'no agent start backoff yet');
    // An expired backoff still shows the initializer failed on it.
    assert.equal(machineConverged('unreachable', state('a', { backoffs: [backoff('ssh connect timeout', false)] })), undefined);
  });

  it('counts a quarantined machine as done only when its fault is one the shepherd cannot cure', () => {
    const q = state('a', { agentStarted: true, quarantined: true });
    for (const fault of ['dead', 'takeover', 'unreachable'] as const) assert.equal(machineConverged(fault, q), undefined, fault);
    for (const fault of ['none', 'slowSsh', 'silent'] as const) assert.match(machineConverged(fault, q)!, /quarantined, though/, fault);
    assert.match(machineConverged('dead', state('a', { agentStarted: true, heartbeating: true }))!, /go silent and die/);
    // Backing off after a failed reboot is not enough for a dead machine: it must be given up on.
    assert.match(machineConverged('dead', state('a', { agentStarted: true, backoffs: [{ ...backoff('not confirmed'), process: 'ShepherdRecovery' }] }))!, /quarantine/);
  });

  it('waits for a planned outage and for storm-guard pauses, but not for the reboot cap', () => {
    assert.deepEqual(fleetWaits(undefined, undefined), []);
    assert.deepEqual(fleetWaits(undefined, { phase: 'over', msUntilOver: 0 }), []);
    assert.deepEqual(fleetWaits({ reason: 'reboot-cap', since: new Date() }, undefined), []);
    assert.deepEqual(fleetWaits({ reason: 'settling', since: new Date() }, { phase: 'ahead', msUntilOver: 50_000 }), ['the server outage (still to come)', "the storm guard's pause (settling) to end"]);
    const fleet = { list: () => [{ id: 'sim-0001' }, { id: 'sim-0002' }], faultOf: (id: string): Fault => (id === 'sim-0002' ? 'dead' : 'none'), bmcResetCounts: () => [] };
    const machines = [state('sim-0001', { agentStarted: true, heartbeating: true }), state('sim-0002', { agentStarted: true, quarantined: true })];
    const paused = summarizeFleet(machines, fleet, { pause: { reason: 'no-heartbeats', since: new Date(Date.now() - 12_000) }, outage: { phase: 'on', msUntilOver: 17_400 } });
    assert.equal(paused.quarantined, 1);
    assert.equal(paused.convergence.converged, false);
    assert.deepEqual(paused.convergence.waitingFor, []);
    const line = renderSummaryLine(paused, { elapsedMs: 50_000 });
    assert.match(line, /quarantined 1, storm guard paused \(no-heartbeats\) for 1[23]s/);
    assert.match(line, /server outage on, 18s left; converging: waiting for the server outage \(on now\) and the storm guard's pause \(no-heartbeats\) to end$/);
    assert.match(renderSummaryBlock(paused, { elapsedMs: 50_000, links: [] }).join('\n'), /quarantined\s+1\s+storm guard\s+paused \(no-heartbeats\)[\s\S]*server outage\s+on, 18s left/);
    const calm = summarizeFleet(machines, fleet, { outage: { phase: 'over', msUntilOver: 0 } });
    assert.equal(calm.convergence.converged, true);
    assert.match(renderSummaryLine(calm, { elapsedMs: 90_000 }), /storm guard not paused, BMC power: none yet, server outage over; converged/);
  });

  it('counts states, active backoffs and top causes, walking the whole simulated fleet', () => {
    const faults: Record<string, Fault> = { 'sim-0001': 'none', 'sim-0002': 'takeover', 'sim-0003': 'takeover', 'sim-0004': 'none', 'sim-0005': 'none' };
    const power = [{ resetType: 'GracefulRestart', status: 204, count: 3 }, { resetType: 'GracefulRestart', status: 503, count: 1 }];
    const fleet = { list: () => Object.keys(faults).map((id) => ({ id })), faultOf: (id: string) => faults[id], bmcResetCounts: () => power };
    const s = summarizeFleet(
      [
        state('sim-0001', { agentStarted: true, heartbeating: true, recoveries: 2 }),
        state('sim-0002', { backoffs: [backoff('boom')] }),
        state('sim-0003', { backoffs: [backoff('boom\n  again'), { ...backoff('x'), process: 'ShepherdRecovery' }] }),
        state('sim-0004', { agentStarted: true, activeWork: ['ShepherdRecovery'], backoffs: [backoff('ssh connect timeout for 127.0.0.1:2201')] }),
        state('sim-0005', { backoffs: [backoff('ssh connect timeout for 127.0.0.1:2202')] }),
      ],
      fleet,
    );
    assert.equal(s.simulated, 5);
    assert.equal(s.freeCapacity, 0);
    assert.equal(s.provided, 5);
    assert.equal(s.agentStarted, 2);
    assert.equal(s.heartbeating, 1);
    assert.equal(s.silent, 1);
    assert.equal(s.recovering, 1);
    assert.equal(s.rebooted, 2);
    assert.deepEqual(s.inBackoff, [{ process: 'ShepherdAgentStart', count: 4 }, { process: 'ShepherdRecovery', count: 1 }]);
    assert.deepEqual(s.topCauses, [
      { cause: 'ssh connect timeout for <address>', count: 2 },
      { cause: 'boom', count: 1 },
      { cause: 'boom again', count: 1 },
    ]);
    assert.equal(s.convergence.converged, false);
    assert.deepEqual(s.convergence.waitingFor.map((w) => w.providerId), ['sim-0004', 'sim-0005']);

    const line = renderSummaryLine(s, { elapsedMs: 65_000 });
    assert.match(line, /^\[bmaas dev 1:05\] machines 5: free 0, provided 5, agent started 2, heartbeating 1, silent 1, in backoff 5/);
    assert.match(line, /waiting for 2 machines \(sim-0004: agent started, no recent heartbeat; sim-0005: agent not started\)/);
    const block = renderSummaryBlock(s, { elapsedMs: 1000, links: [['web UI', 'http://127.0.0.1:8081/']] }).join('\n');
    assert.match(block, /web UI {8}http:\/\/127\.0\.0\.1:8081\//);
    assert.match(block, /in backoff\s+5\s+ShepherdAgentStart 4, ShepherdRecovery 1/);
    assert.match(block, /BMC power\s+GracefulRestart ok 3, GracefulRestart 503 1/);
  });

  it('redraws in place on a terminal and appends lines otherwise', () => {
    const fleet = { list: () => [{ id: 'sim-0001' }], faultOf: (): Fault => 'none', bmcResetCounts: () => [] };
    const s = summarizeFleet([state('sim-0001', { agentStarted: true, heartbeating: true })], fleet);
    const written: string[] = [];
    const sink = (isTTY: boolean) => Object.assign({ write: (t: string) => written.push(t) > 0 }, { isTTY, columns: 80 }) as unknown as NodeJS.WritableStream & { isTTY: boolean };
    const tty = new LiveSummary(sink(true));
    tty.show(s, { elapsedMs: 0, links: [] });
    tty.show(s, { elapsedMs: 1000, links: [] });
    const ESC = String.fromCharCode(27);
    assert.ok(written[0]!.startsWith(`${ESC}[J`), 'the first draw only clears below the cursor');
    assert.ok(new RegExp(`^${ESC}\\[\\d+F${ESC}\\[J`).test(written[1]!), 'later draws move up over the previous block first');
    written.length = 0;
    new LiveSummary(sink(false)).show(s, { elapsedMs: 0, links: [] });
    assert.equal(written.length, 1);
    assert.match(written[0]!, /^\[bmaas dev 0:00\].*converged/);
  });
});
