import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { NodeSchema } from '../proto/index.ts';
import { simulatedHardware } from './sim-hardware.ts';

describe('simulated hardware', () => {
  it('differs per machine, stays the same per machine, and encodes as a Node report', () => {
    const reports = Array.from({ length: 8 }, (_, i) => simulatedHardware(i));
    assert.equal(new Set(reports.map((r) => r.serialNumber)).size, 8);
    assert.equal(new Set(reports.map((r) => Buffer.from(r.networkInterface[0]!.mac).toString('hex'))).size, 8);
    assert.deepEqual(simulatedHardware(3), simulatedHardware(3));
    for (const r of reports) assert.ok(toBinary(NodeSchema, create(NodeSchema, r)).length > 50);
  });
});
