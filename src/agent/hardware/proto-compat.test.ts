import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { NodeSchema } from '../../proto/index.ts';
import { gatherHardwareReport } from './index.ts';

describe('NodeReport and the generated cloud.agent.api.Node', () => {
  it('round-trips the server fixture through create, toBinary and fromBinary', async () => {
    const { node } = await gatherHardwareReport({ root: join(import.meta.dirname, 'testdata', 'server') });
    // Compile-time half of the check: the plain report is a valid init shape.
    const init: MessageInitShape<typeof NodeSchema> = node;
    const decoded = fromBinary(NodeSchema, toBinary(NodeSchema, create(NodeSchema, init)));

    assert.equal(decoded.manufacturer, node.manufacturer);
    assert.equal(decoded.serialNumber, node.serialNumber);
    assert.equal(decoded.efiSupport, node.efiSupport);
    assert.equal(decoded.memoryInstalledBytes, node.memoryInstalledBytes);
    // The ratio is a proto float, so it loses precision on the wire.
    assert.equal(decoded.memoryUsableRatio, Math.fround(node.memoryUsableRatio));
    assert.deepEqual(
      decoded.cpu.map((c) => [c.architecture.case, c.architecture.value?.family, c.cores, c.hardwareThreads, c.model]),
      node.cpu.map((c) => [c.architecture.case, c.architecture.value?.family, c.cores, c.hardwareThreads, c.model]),
    );
    assert.deepEqual(
      decoded.blockDevice.map((d) => ({ ...d, $typeName: undefined })),
      node.blockDevice.map((d) => ({ ...d, $typeName: undefined })),
    );
    assert.deepEqual(
      decoded.networkInterface.map((n) => [n.mac, n.driver, n.linkUp, n.currentSpeedBytes, n.supportedSpeedBytes]),
      node.networkInterface.map((n) => [n.mac, n.driver, n.linkUp, n.currentSpeedBytes, n.supportedSpeedBytes]),
    );
  });
});
