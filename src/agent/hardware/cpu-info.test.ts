import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpuInfo } from './index.ts';

describe('parseCpuInfo', () => {
  it('counts distinct core ids when cpu cores is missing', () => {
    const text = [0, 1, 2, 3]
      .map((n) => `processor\t: ${n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nstepping\t: 1\nphysical id\t: 0\ncore id\t\t: ${n >> 1}\n`)
      .join('\n');
    assert.deepEqual(parseCpuInfo(text).map((c) => [c.cores, c.hardwareThreads]), [[2, 4]]);
  });

  it('reports non-x86 processors without an architecture', () => {
    const text = 'processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n';
    assert.deepEqual(parseCpuInfo(text), [
      { architecture: { case: undefined }, cores: 2, hardwareThreads: 2, vendor: '', model: '' },
    ]);
  });

  it('returns nothing for text without processors', () => {
    assert.deepEqual(parseCpuInfo(''), []);
  });
});
