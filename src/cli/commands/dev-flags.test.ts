import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFlags } from '../../lib/flags.ts';
import { command, devOptionsFromFlags } from './dev.ts';

const options = (...argv: string[]) => devOptionsFromFlags(parseFlags(command.flags, argv));

describe('bmaas dev fault flags', () => {
  it('--no-faults zeroes every fault share the command line does not give', () => {
    const o = options('--no-faults');
    assert.deepEqual(o.faults, { takeover: 0, silent: 0, unreachable: 0, slowSsh: 0, dead: 0 });
    assert.equal(o.bmcUnavailableShare, 0);
  });

  it('a --fault-* given with --no-faults is kept: only the faults named are injected', () => {
    const o = options('--no-faults', '--fault-silent', '0.2', '--fault-bmc-503', '0.1');
    assert.deepEqual(o.faults, { takeover: 0, silent: 0.2, unreachable: 0, slowSsh: 0, dead: 0 });
    assert.equal(o.bmcUnavailableShare, 0.1);
  });

  it('without --no-faults the defaults stand, and a given share replaces its default', () => {
    const defaults = options().faults;
    assert.ok(Object.values(defaults).some((share) => share > 0), 'the default fleet has faults');
    assert.deepEqual(options('--fault-dead', '0').faults, { ...defaults, dead: 0 });
  });
});
