// Fuzzes device-list parsing with random bytes, random strings and mutated
// valid lists (a fixed seed, so a failure reproduces): the parser may only
// refuse with DeviceListError, and whatever it accepts the BMDB must store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeBmdb } from '../../../../test/bmdb.ts';
// The seeded PRNG of the simulated fleet's fault plan (test-only use).
import { mulberry32 } from '../../../sim/fault-plan.ts';
import { Availability } from '../../provider.ts';
import { DeviceListError, MiniProvider, parseDeviceList, type Device } from './index.ts';

const SEED = 0x5eed_2011;
const ROUNDS = 12_000;
// A guard against pathological parse times (runaway regex backtracking), not a
// speed target: about 3 s on an idle 2-core machine, 18 s seen under heavy load.
const TIME_BOUND_MS = 90_000;

const SEEDS: unknown[] = [
  [{ ID: 'node-1', Addr: '10.0.0.11', Location: 'rack-3' }],
  [
    { ID: 'a', Addr: '192.0.2.1:2222', Location: 'row\t2' },
    { ID: 'b', Addr: '[2001:db8::2]:22' },
    { ID: 'nöde-ü', Addr: 'node-5.example.com' },
  ],
  [
    {
      ID: 'node-1',
      Addr: '10.0.0.11',
      Location: 'rack-3',
      BMC: { Driver: 'redfish', Endpoint: 'https://10.0.1.11', System: '/redfish/v1/Systems/1', Username: 'admin', PasswordFile: '/etc/bmaas/bmc/node-1.pass', TLS: 'verify' },
    },
    { ID: 'node-2', Addr: '10.0.0.12', BMC: { Driver: 'ipmi', Endpoint: '10.0.1.12:623', Username: 'ADMIN', PasswordEnv: 'IPMI_PW' } },
    { ID: 'node-3', Addr: '10.0.0.13', BMC: { Driver: 'redfish', Endpoint: 'https://10.0.1.13', Username: 'root', PasswordEnv: 'PW', TLS: { Fingerprint: `SHA256:${'ab'.repeat(32)}` } } },
  ],
];

const TOKENS: Array<string | number[]> = [
  '\\u0000', '\\ud800', '\\udfff', '\\ud83d\\ude80', '\\u001b', '\\u0085', '\\t', '\\n', '\\"', '\\', '"', ',', ':', '{', '}', '[', ']',
  'null', 'true', '1e999', '-0', '"BMC":{}', '"ID":"x",', '"Location":"\\u0000",', '"TLS":{"CACertificate":"rel"}', 'é', '\u{1f680}', 'a'.repeat(300),
  [0x00], [0x1b], [0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf], [0xe2, 0x82], [0x80],
];

const NASTY_VALUES: unknown[] = [
  '', ' ', 'x', '\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\u{1f680}', '\u007f', '\u009b', '\t', 'a'.repeat(129), 'a'.repeat(5000),
  'https://10.0.1.1', 'http://[::1]:80', 'https://u:p@h', '10.0.1.1:623', '[::1]', '/abs/path', 'rel/path', 'redfish', 'ipmi', 'verify', 'insecure',
  'SHA256:' + 'AB:'.repeat(31) + 'AB', '/redfish/v1/Systems/1', 0, -1, 1e308, null, true, [], {}, { CACertificate: '/ca.pem' }, { Fingerprint: 'SHA256:x' }, [1, [2, [3]]],
];

const KEYS = ['ID', 'Addr', 'Location', 'BMC', 'Extra', 'BMC.Driver', 'BMC.Endpoint', 'BMC.System', 'BMC.Username', 'BMC.PasswordFile', 'BMC.PasswordEnv', 'BMC.TLS', 'BMC.Other'];

interface Fuzzer {
  readonly int: (n: number) => number;
  readonly pick: <T>(items: readonly T[]) => T;
}

function fuzzer(seed: number): Fuzzer {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: (items) => items[int(items.length)]! };
}

function randomBytes(f: Fuzzer): Uint8Array {
  const bytes = new Uint8Array(f.int(300));
  for (let i = 0; i < bytes.length; i++) bytes[i] = f.int(256);
  return bytes;
}

function randomString(f: Fuzzer): string {
  const alphabet = '[]{}",:\\ 0123456789abcdefIDAddrLocationBMCnul\u0000\u001b\ud800\udc00é';
  let s = '';
  for (let i = f.int(200); i > 0; i--) s += f.int(10) === 0 ? String.fromCharCode(f.int(0x10000)) : f.pick([...alphabet]);
  return s;
}

// Mostly printable text from all planes, sometimes a control character or half a surrogate pair.
function randomText(f: Fuzzer): string {
  let s = '';
  for (let i = 1 + f.int(40); i > 0; i--) {
    const kind = f.int(20);
    if (kind === 0) s += String.fromCharCode(f.int(0x20));
    else if (kind === 1) s += String.fromCharCode(0xd800 + f.int(0x800));
    else if (kind < 6) s += String.fromCodePoint(f.int(2) === 0 ? 0xa0 + f.int(0x2000) : 0xe000 + f.int(0x10ffff - 0xe000));
    else s += String.fromCharCode(0x20 + f.int(0x5f));
  }
  return s;
}

/** One text field of a valid list replaced: the way to reach many accepted lists. */
function mutateText(f: Fuzzer, list: unknown): unknown {
  const copy = structuredClone(list) as Array<Record<string, unknown>>;
  const entry = f.pick(copy);
  const bmc = entry['BMC'] as Record<string, unknown> | undefined;
  if (bmc !== undefined && f.int(3) === 0) bmc[f.pick(['Username', 'System', 'PasswordFile'])] = f.int(2) === 0 ? `/${randomText(f)}` : randomText(f);
  else entry[f.pick(['ID', 'Location'])] = randomText(f);
  return copy;
}

function mutateBytes(f: Fuzzer, input: Uint8Array): Uint8Array {
  let bytes = Buffer.from(input);
  for (let n = 1 + f.int(4); n > 0; n--) {
    const at = f.int(bytes.length + 1);
    switch (f.int(5)) {
      case 0:
        if (at < bytes.length) bytes[at]! ^= 1 << f.int(8);
        break;
      case 1:
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([f.int(256)]), bytes.subarray(at)]);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + f.int(8))]);
        break;
      case 3: {
        const token = f.pick(TOKENS);
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(token as string), bytes.subarray(at)]);
        break;
      }
      default: {
        const from = f.int(bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(from, from + f.int(40)), bytes.subarray(at)]);
      }
    }
  }
  return bytes;
}

function mutateStructure(f: Fuzzer, list: unknown): unknown {
  const copy = structuredClone(list) as Array<Record<string, unknown>>;
  for (let n = 1 + f.int(3); n > 0; n--) {
    const entry = f.pick(copy);
    const [first, second] = f.pick(KEYS).split('.') as [string, string | undefined];
    let target: Record<string, unknown> = entry;
    let key = first;
    if (second !== undefined) {
      if (typeof entry['BMC'] !== 'object' || entry['BMC'] === null) entry['BMC'] = {};
      target = entry['BMC'] as Record<string, unknown>;
      key = second;
    }
    if (f.int(6) === 0) delete target[key];
    else target[key] = f.int(3) === 0 ? randomString(f) : f.pick(NASTY_VALUES);
  }
  if (f.int(8) === 0) copy.push(structuredClone(f.pick(copy)));
  return copy;
}

function* strings(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* strings(v);
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) yield* [k, ...strings(v)];
}

/** What PostgreSQL's text can hold: no NUL, and well-formed UTF-16 (so it encodes to UTF-8 as it is). */
function storable(s: string): boolean {
  return !s.includes('\0') && s.isWellFormed();
}

interface FuzzOutcome {
  readonly accepted: number;
  readonly refused: number;
  readonly elapsedMs: number;
  /** Accepted devices, at most one per ID, for the database check. */
  readonly sample: readonly Device[];
}

let outcome: FuzzOutcome | undefined;

function fuzz(): FuzzOutcome {
  if (outcome) return outcome;
  const f = fuzzer(SEED);
  const seedBytes = SEEDS.map((s) => Buffer.from(JSON.stringify(s)));
  const sample = new Map<string, Device>();
  let accepted = 0;
  let refused = 0;
  const started = performance.now();
  const inputs: Array<() => string | Uint8Array> = [
    () => randomBytes(f),
    () => randomString(f),
    () => mutateBytes(f, f.pick(seedBytes)),
    () => JSON.stringify(mutateStructure(f, f.pick(SEEDS))),
    () => Buffer.from(JSON.stringify(mutateStructure(f, f.pick(SEEDS)))),
    () => JSON.stringify(mutateText(f, f.pick(SEEDS))),
    () => Buffer.from(JSON.stringify(mutateText(f, f.pick(SEEDS)))),
  ];
  const fixed: Array<string | Uint8Array> = ['['.repeat(100_000), `[${'{"ID":"x","Addr":"1.2.3.4"},'.repeat(3)}]`, '[{"ID":"x","Addr":"1.2.3.4"}]\u0000', new Uint8Array(0)];
  for (let round = 0; round < ROUNDS + fixed.length; round++) {
    const input = round < fixed.length ? fixed[round]! : f.pick(inputs)();
    let devices: Device[];
    try {
      devices = parseDeviceList(input, 'fuzz.json');
    } catch (err) {
      const shown = typeof input === 'string' ? JSON.stringify(input.slice(0, 500)) : Buffer.from(input.subarray(0, 500)).toString('hex');
      assert.ok(err instanceof DeviceListError, `round ${round}: ${String(err)} for ${shown}`);
      assert.ok(storable(err.message) && !/\p{Cc}/u.test(err.message), `round ${round}: the error message is not printable: ${JSON.stringify(err.message)}`);
      refused++;
      continue;
    }
    accepted++;
    for (const device of devices) {
      for (const s of strings(device)) assert.ok(storable(s), `round ${round}: accepted ${JSON.stringify(s)}`);
      assert.ok(!/\p{Cc}/u.test(device.ID), `round ${round}: accepted the ID ${JSON.stringify(device.ID)}`);
      if (!sample.has(device.ID) && sample.size < 150) sample.set(device.ID, device);
    }
  }
  outcome = { accepted, refused, elapsedMs: performance.now() - started, sample: [...sample.values()] };
  return outcome;
}

describe('mini device list fuzzing', () => {
  it(`never crashes and never accepts what the BMDB refuses (${ROUNDS} inputs, seed ${SEED.toString(16)})`, () => {
    const { accepted, refused, elapsedMs, sample } = fuzz();
    assert.ok(elapsedMs < TIME_BOUND_MS, `took ${Math.round(elapsedMs)} ms`);
    // Both outcomes must be common, or the fuzzer tests nothing.
    assert.ok(accepted > ROUNDS / 20, `only ${accepted} accepted`);
    assert.ok(refused > ROUNDS / 2, `only ${refused} refused`);
    assert.ok(sample.length > 50, `only ${sample.length} distinct accepted IDs`);
  });
});

describeBmdb('accepted fuzzed device-list entries', ({ open }) => {
  it('are enrolled by the mini provider as they are', async () => {
    const { sample } = fuzz();
    const bmdb = await open();
    const provider = MiniProvider.fromDevices({ deviceListUrl: 'fuzz.json' }, sample);
    await using session = await bmdb.startSession({ component: 'test', processor: 'shepherd-provisioner' });
    for (const machine of await provider.listMachines()) {
      assert.equal(machine.availability, Availability.PossiblyUsed);
      await provider.createMachine(session, { unusedMachine: machine });
    }
    const rows = await bmdb.driver.query('SELECT provider_id, provider_location FROM machine_provided');
    const stored = new Map(rows.rows.map((r) => [r['provider_id'] as string, r['provider_location'] as string | null]));
    assert.equal(stored.size, sample.length);
    for (const device of sample) assert.equal(stored.get(device.ID), device.Location ?? null, JSON.stringify(device.ID));
  });
});
