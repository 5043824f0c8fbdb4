import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultPlanError, NO_FAULTS, planFaults, validateFaultFractions } from './fault-plan.ts';

describe('fault plan', () => {
  it('gives each fault round(fraction × count) machines, one fault per machine', () => {
    const plan = planFaults(50, { takeover: 0.06, silent: 0.1, unreachable: 0.04, slowSsh: 0.1, dead: 0 }, 1);
    const count = (f: string) => plan.filter((x) => x === f).length;
    assert.deepEqual([count('takeover'), count('silent'), count('unreachable'), count('slowSsh'), count('none')], [3, 5, 2, 5, 35]);
  });

  it('is the same for the same seed and spreads faults over the fleet', () => {
    const f = { takeover: 0.25, silent: 0.25, unreachable: 0, slowSsh: 0, dead: 0 };
    assert.deepEqual(planFaults(40, f, 7), planFaults(40, f, 7));
    assert.notDeepEqual(planFaults(40, f, 7), planFaults(40, f, 8));
    // Not simply the first machines of the fleet.
    assert.ok(planFaults(40, f, 7).slice(0, 20).includes('none'));
  });

  it('has no faults without fractions, and never more faults than machines', () => {
    assert.ok(planFaults(10, NO_FAULTS, 1).every((f) => f === 'none'));
    assert.ok(planFaults(3, { takeover: 0.5, silent: 0.5, unreachable: 0, slowSsh: 0, dead: 0 }, 1).every((f) => f !== 'none'));
    assert.deepEqual(planFaults(0, NO_FAULTS, 1), []);
  });

  it('refuses fractions outside 0..1 or adding up to more than 1', () => {
    assert.throws(() => validateFaultFractions({ ...NO_FAULTS, silent: -0.1 }), FaultPlanError);
    assert.throws(() => validateFaultFractions({ ...NO_FAULTS, silent: Number.NaN }), FaultPlanError);
    assert.throws(() => validateFaultFractions({ takeover: 0.5, silent: 0.3, unreachable: 0.3, slowSsh: 0, dead: 0 }), /add up to 1\.10/);
    validateFaultFractions({ takeover: 0.25, silent: 0.25, unreachable: 0.25, slowSsh: 0.25, dead: 0 });
  });
});
