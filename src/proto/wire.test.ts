// Golden wire bytes for the contract in docs/architecture.md#wire-contract. The expected
// bytes are assembled by a tiny protobuf writer below that knows nothing of
// the generated code, so a wrong field number, type or presence in proto/
// shows up here as a byte mismatch rather than passing a round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clone, create, createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  AgentCallback,
  AgentHeartbeatRequestSchema,
  AgentHeartbeatResponseSchema,
  BlockDevice_Protocol,
  EFISupport,
  OSInstallationProgress_Stage,
  OSInstallationReportSchema,
  OSInstallationRequestSchema,
  file_cloud_agent_api_hwreport,
  file_cloud_bmaas_server_api_agent,
  TakeoverInitSchema,
  TakeoverResponseSchema,
  WireDecodeError,
  decodeTakeoverInit,
  decodeTakeoverResponse,
  encodeTakeoverInit,
  encodeTakeoverResponse,
  heartbeatMethodPath,
} from './index.ts';

// --- hand-rolled writer -----------------------------------------------------

type Bytes = number[];
const VARINT = 0;
const LEN = 2;
const FIXED32 = 5;

/** Base-128 varint; negative numbers take ten bytes as two's complement, as protobuf does. */
function varint(value: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: Bytes = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (field: number, wireType: number): Bytes => varint((field << 3) | wireType);
const int = (field: number, value: number | bigint): Bytes => [...tag(field, VARINT), ...varint(value)];
const bool = (field: number, value: boolean): Bytes => int(field, value ? 1 : 0);
const len = (field: number, payload: Bytes): Bytes => [...tag(field, LEN), ...varint(payload.length), ...payload];
const str = (field: number, value: string): Bytes => len(field, [...Buffer.from(value, 'utf8')]);
const msg = (field: number, ...parts: Bytes[]): Bytes => len(field, parts.flat());
const packed = (field: number, values: bigint[]): Bytes => len(field, values.flatMap((v) => varint(v)));
function float(field: number, value: number): Bytes {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return [...tag(field, FIXED32), ...new Uint8Array(view.buffer)];
}
const golden = (...parts: Bytes[]): Uint8Array => Uint8Array.from(parts.flat());
const range = (start: number, count: number): Bytes => Array.from({ length: count }, (_, i) => start + i);

/** Decoding the golden bytes gives the expected message, and encoding it gives the golden bytes back. */
function assertWire<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
  bytes: Uint8Array,
): void {
  const expected = create(schema, init);
  assert.deepEqual(fromBinary(schema, bytes), expected);
  assert.deepEqual(toBinary(schema, expected), bytes);
}

// --- fixtures ---------------------------------------------------------------

const machineId = '5b9c1f3e-8d2a-4c71-9e0f-2a6b7c8d9e01';
const endpoint = 'bmaas.example.com:443';
const caDer: Bytes = [0x30, 0x82, 0x01, 0x0a, 0x02, 0x01];
const key: Bytes = range(0xa0, 32);

const takeoverInit = {
  machineId,
  bmaasEndpoint: endpoint,
  caCertificate: Uint8Array.from(caDer),
};
const takeoverInitBytes: Bytes = [...str(1, machineId), ...str(2, endpoint), ...len(3, caDer)];

// Opaque to us: some serialized Metropolis NodeParameters.
const nodeParameters: Bytes = msg(1, str(1, 'cluster-owner-key'));
const installationRequest = {
  generation: 7n,
  type: {
    case: 'metropolis' as const,
    value: {
      bundleUrl: 'https://example.com/metropolis/bundle.zip',
      nodeParameters: Uint8Array.from(nodeParameters),
      rootDevice: 'nvme0n1',
    },
  },
};
const installationRequestBytes: Bytes = [
  ...int(1, 7),
  ...msg(2, str(1, 'https://example.com/metropolis/bundle.zip'), len(2, nodeParameters), str(3, 'nvme0n1')),
];

const digest: Bytes = range(0x10, 32);
const imageRequest = {
  generation: 8n,
  type: {
    case: 'image' as const,
    value: {
      url: 'https://images.example.com/os.img',
      sha256: Uint8Array.from(digest),
      targetDevice: '/dev/sda',
      postInstallCommand: 'efibootmgr -o 0001',
    },
  },
};
const imageRequestBytes: Bytes = [
  ...int(1, 8),
  ...msg(3, str(1, 'https://images.example.com/os.img'), len(2, digest), str(3, '/dev/sda'), str(4, 'efibootmgr -o 0001')),
];

/**
 * The contract as it was before the image request and the progress report:
 * today's descriptor with field 3 of the `type` oneof and field 4 of the
 * heartbeat request removed, i.e. what an older agent or server was built from.
 */
function olderContract() {
  const proto = clone(FileDescriptorProtoSchema, file_cloud_bmaas_server_api_agent.proto);
  const message = (name: string) => proto.messageType.find((m) => m.name === name)!;
  message('OSInstallationRequest').field = message('OSInstallationRequest').field.filter((f) => f.number !== 3);
  message('AgentHeartbeatRequest').field = message('AgentHeartbeatRequest').field.filter((f) => f.number !== 4);
  proto.messageType = proto.messageType.filter((m) => m.name !== 'ImageInstallationRequest' && m.name !== 'OSInstallationProgress');
  const registry = createFileRegistry(proto, (name) => (name === file_cloud_agent_api_hwreport.proto.name ? file_cloud_agent_api_hwreport : undefined));
  return {
    request: registry.getMessage('cloud.bmaas.server.api.OSInstallationRequest')!,
    heartbeat: registry.getMessage('cloud.bmaas.server.api.AgentHeartbeatRequest')!,
  };
}

// --- tests ------------------------------------------------------------------

void test('TakeoverInit with machine id, endpoint and CA certificate matches golden bytes', () => {
  const bytes = golden(takeoverInitBytes);
  assertWire(TakeoverInitSchema, takeoverInit, bytes);
  assert.deepEqual(encodeTakeoverInit(takeoverInit), bytes);
  assert.deepEqual(decodeTakeoverInit(bytes), create(TakeoverInitSchema, takeoverInit));
});

void test('TakeoverResponse success with init echo, key and two warnings matches golden bytes', () => {
  const init = {
    result: {
      case: 'success' as const,
      value: {
        initMessage: takeoverInit,
        key: Uint8Array.from(key),
        warning: ['no TPM found', 'clock is 3s ahead'],
      },
    },
  };
  const bytes = golden(
    msg(1, msg(1, takeoverInitBytes), len(2, key), str(3, 'no TPM found'), str(3, 'clock is 3s ahead')),
  );
  assertWire(TakeoverResponseSchema, init, bytes);
  assert.deepEqual(encodeTakeoverResponse(init), bytes);
  assert.deepEqual(decodeTakeoverResponse(bytes), create(TakeoverResponseSchema, init));
});

void test('TakeoverResponse error variant matches golden bytes', () => {
  const init = { result: { case: 'error' as const, value: { message: 'cannot generate key' } } };
  assertWire(TakeoverResponseSchema, init, golden(msg(2, str(1, 'cannot generate key'))));
});

void test('decodeTakeoverResponse rejects truncated bytes with WireDecodeError', () => {
  const truncated = golden(msg(2, str(1, 'cannot generate key'))).subarray(0, 5);
  assert.throws(() => decodeTakeoverResponse(truncated), (err: unknown) => {
    assert.ok(err instanceof WireDecodeError);
    assert.equal(err.typeName, 'cloud.agent.api.TakeoverResponse');
    assert.ok(err.cause instanceof Error);
    return true;
  });
});

void test('AgentHeartbeatRequest with hardware report and failed installation matches golden bytes', () => {
  const mac: Bytes = [0x0c, 0xc4, 0x7a, 0x12, 0x34, 0x56];
  const wwn: Bytes = [0x50, 0x02, 0x53, 0x88, 0x00, 0x11, 0x22, 0x33];
  const init = {
    machineId,
    hardwareReport: {
      report: {
        manufacturer: 'Supermicro',
        product: 'SYS-5019C-MR',
        serialNumber: 'S348812X9A01234',
        efiSupport: EFISupport.EFI_ENABLED,
        memoryInstalledBytes: 68_719_476_736n,
        memoryUsableRatio: 0.9375,
        cpu: [
          {
            architecture: { case: 'x8664' as const, value: { family: 6, model: 158, stepping: 10 } },
            cores: 8,
            hardwareThreads: 16,
            vendor: 'GenuineIntel',
            model: 'Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz',
          },
        ],
        blockDevice: [
          {
            deviceModel: 'SAMSUNG MZQLB960HAJR-00007',
            serialNumber: 'S437NA0M800123',
            wwn: Uint8Array.from(wwn),
            capacityBytes: 960_197_124_096n,
            logicalBlockSizeBytes: 512,
            physicalBlockSizeBytes: 4096,
            protocol: BlockDevice_Protocol.NVME,
            // Explicitly zero: present on the wire, unlike an unset value.
            mediaErrors: 0n,
            usageRatio: 0.25,
          },
        ],
        networkInterface: [
          {
            mac: Uint8Array.from(mac),
            driver: 'ixgbe',
            supportedSpeedBytes: [125_000_000n, 1_250_000_000n],
            linkUp: true,
            currentSpeedBytes: 1_250_000_000n,
          },
        ],
      },
      warning: ['cannot read chassis serial'],
    },
    installationReport: {
      generation: 7n,
      result: { case: 'error' as const, value: { error: 'root device nvme0n1 not found' } },
    },
  };
  // Fields go out in field-number order, so efi_support (13) comes last in Node.
  const node = [
    str(1, 'Supermicro'),
    str(2, 'SYS-5019C-MR'),
    str(3, 'S348812X9A01234'),
    int(8, 68_719_476_736n),
    float(9, 0.9375),
    msg(10,
      msg(1, int(1, 6), int(2, 158), int(3, 10)),
      int(8, 8),
      int(9, 16),
      str(10, 'GenuineIntel'),
      str(11, 'Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz')),
    msg(11,
      str(2, 'SAMSUNG MZQLB960HAJR-00007'),
      str(3, 'S437NA0M800123'),
      len(4, wwn),
      int(6, 960_197_124_096n),
      int(7, 512),
      int(8, 4096),
      int(9, 3),
      int(11, 0),
      float(13, 0.25)),
    msg(12,
      len(1, mac),
      str(2, 'ixgbe'),
      packed(3, [125_000_000n, 1_250_000_000n]),
      bool(4, true),
      int(5, 1_250_000_000n)),
    int(13, 4),
  ];
  const bytes = golden(
    str(1, machineId),
    msg(2, msg(1, ...node), str(2, 'cannot read chassis serial')),
    msg(3, int(1, 7), msg(3, str(1, 'root device nvme0n1 not found'))),
  );
  assertWire(AgentHeartbeatRequestSchema, init, bytes);
});

void test('OSInstallationReport success is an empty submessage at field 2', () => {
  assertWire(
    OSInstallationReportSchema,
    { generation: 3n, result: { case: 'success' as const, value: {} } },
    golden(int(1, 3), len(2, [])),
  );
});

void test('OSInstallationRequest with a Metropolis request carries node parameters as opaque bytes', () => {
  assertWire(OSInstallationRequestSchema, installationRequest, golden(installationRequestBytes));
});

void test('OSInstallationRequest with an image request is case 3 of the type oneof, the digest as 32 raw bytes', () => {
  assertWire(OSInstallationRequestSchema, imageRequest, golden(imageRequestBytes));
});

void test('AgentHeartbeatRequest with installation progress carries it at field 4', () => {
  assertWire(
    AgentHeartbeatRequestSchema,
    { machineId, installationProgress: { generation: 8n, stage: OSInstallationProgress_Stage.WRITING, bytesDone: 1_048_576n, bytesTotal: 4_194_304n } },
    golden(str(1, machineId), msg(4, int(1, 8), int(2, 1), int(3, 1_048_576), int(4, 4_194_304))),
  );
  assert.deepEqual({ ...OSInstallationProgress_Stage }, { UNSPECIFIED: 0, WRITING: 1, VERIFYING: 2, POST_INSTALL: 3 });
});

void test('an older decoder sees an image request as a request of no known kind, keeps its generation and passes the bytes on unchanged', () => {
  const older = olderContract();
  const bytes = golden(imageRequestBytes);
  const seen = fromBinary(older.request, bytes);
  const fields = seen as unknown as { generation: bigint; type: { case: unknown } };
  assert.equal(fields.generation, 8n, 'the generation is what the error report names');
  assert.equal(fields.type.case, undefined, 'no case set: the agent answers "a kind this agent does not know"');
  assert.deepEqual(toBinary(older.request, seen), bytes, 'the unknown case travels on as an unknown field');
});

void test('an older server decodes a heartbeat with progress as a plain heartbeat', () => {
  const older = olderContract();
  const bytes = golden(str(1, machineId), msg(4, int(1, 8), int(2, 2), int(3, 10)));
  const seen = fromBinary(older.heartbeat, bytes);
  assert.equal((seen as unknown as { machineId: string }).machineId, machineId);
  assert.equal('installationProgress' in seen, false);
  assert.deepEqual(toBinary(older.heartbeat, seen), bytes);
});

void test('AgentHeartbeatResponse with an installation request matches golden bytes', () => {
  assertWire(
    AgentHeartbeatResponseSchema,
    { installationRequest },
    golden(msg(1, installationRequestBytes)),
  );
});

void test('AgentHeartbeatResponse without a pending installation is empty on the wire', () => {
  assertWire(AgentHeartbeatResponseSchema, {}, golden());
});

void test('enum values match the contract', () => {
  assert.deepEqual(
    { ...EFISupport },
    { EFI_INVALID: 0, EFI_UNKNOWN: 1, EFI_UNSUPPORTED: 2, EFI_SUPPORTED: 3, EFI_ENABLED: 4 },
  );
  assert.deepEqual({ ...BlockDevice_Protocol }, { UNKNOWN: 0, SCSI: 1, ATA: 2, NVME: 3, MMC: 4 });
});

void test('AgentCallback.Heartbeat is a unary RPC at /cloud.bmaas.server.api.AgentCallback/Heartbeat', () => {
  const method = AgentCallback.method.heartbeat;
  assert.equal(`/${AgentCallback.typeName}/${method.name}`, '/cloud.bmaas.server.api.AgentCallback/Heartbeat');
  assert.equal(heartbeatMethodPath, '/cloud.bmaas.server.api.AgentCallback/Heartbeat');
  assert.equal(method.methodKind, 'unary');
  assert.equal(method.input, AgentHeartbeatRequestSchema);
  assert.equal(method.output, AgentHeartbeatResponseSchema);
});
