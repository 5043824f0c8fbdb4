import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ProviderMachineNotFoundError } from '../../provider.ts';
import { BmcPasswordError, DeviceListError, MiniProvider, parseDeviceList, resolveBmcPassword, resolveBmcSpec, type BmcSpec } from './index.ts';

const EXAMPLE = {
  ID: 'node-1',
  Addr: '10.0.0.11',
  Location: 'rack-3',
  BMC: { Driver: 'redfish', Endpoint: 'https://10.0.1.11', System: '/redfish/v1/Systems/1', Username: 'admin', PasswordFile: '/etc/bmaas/bmc/node-1.pass', TLS: 'verify' },
};

function bmcOf(bmc: Record<string, unknown>): BmcSpec | undefined {
  return parseDeviceList(JSON.stringify([{ ID: 'n', Addr: '192.0.2.1', BMC: bmc }]), 'list.json')[0]!.BMC;
}

function refused(bmc: Record<string, unknown>, pattern: RegExp): void {
  const text = JSON.stringify([{ ID: 'first', Addr: '192.0.2.1' }, { ID: 'n', Addr: '192.0.2.2', BMC: bmc }]);
  assert.throws(
    () => parseDeviceList(text, 'list.json'),
    (err: unknown) => {
      assert.ok(err instanceof DeviceListError);
      assert.match(err.message, /^device list list\.json: entry 1 \(ID "n"\): BMC/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

const redfish = { Driver: 'redfish', Endpoint: 'https://bmc-1.example:8443', Username: 'admin', PasswordEnv: 'BMC_PW' };
const ipmi = { Driver: 'ipmi', Endpoint: '10.0.1.12', Username: 'ADMIN', PasswordFile: '/run/secrets/ipmi' };

describe('mini device list: BMC entries', () => {
  it('parses the documented example', () => {
    const [device] = parseDeviceList(JSON.stringify([EXAMPLE]), 'list.json');
    assert.deepEqual(device!.BMC, {
      driver: 'redfish',
      endpoint: 'https://10.0.1.11',
      system: '/redfish/v1/Systems/1',
      username: 'admin',
      password: { file: '/etc/bmaas/bmc/node-1.pass' },
      tls: { mode: 'verify' },
    });
  });

  it('entries without a BMC are as before', () => {
    assert.equal(parseDeviceList('[{"ID":"a","Addr":"192.0.2.1"}]', 'list.json')[0]!.BMC, undefined);
  });

  it('Redfish: TLS defaults to verify, the endpoint is normalised to its origin, System may be a bare Id', () => {
    assert.deepEqual(bmcOf({ ...redfish, System: 'System.Embedded.1' }), {
      driver: 'redfish',
      endpoint: 'https://bmc-1.example:8443',
      system: 'System.Embedded.1',
      username: 'admin',
      password: { env: 'BMC_PW' },
      tls: { mode: 'verify' },
    });
    assert.equal(bmcOf({ ...redfish, Endpoint: 'HTTPS://[2001:DB8::1]:443/' })?.endpoint, 'https://[2001:db8::1]');
    assert.deepEqual((bmcOf({ ...redfish, Endpoint: 'http://10.0.1.1' }) as { tls: unknown }).tls, { mode: 'verify' });
  });

  it('Redfish TLS: insecure, a CA certificate, a SHA-256 pin in hex or base64', () => {
    const der = Buffer.from('not really a certificate');
    const digest = createHash('sha256').update(der).digest();
    const hex = digest.toString('hex');
    const tlsOf = (TLS: unknown) => (bmcOf({ ...redfish, TLS }) as { tls: unknown }).tls;
    assert.deepEqual(tlsOf('insecure'), { mode: 'insecure' });
    assert.deepEqual(tlsOf({ CACertificate: '/etc/bmaas/bmc-ca.pem' }), { mode: 'ca', caCertificateFile: '/etc/bmaas/bmc-ca.pem' });
    const pin = { mode: 'fingerprint', sha256: hex };
    assert.deepEqual(tlsOf({ Fingerprint: `SHA256:${hex.toUpperCase()}` }), pin);
    assert.deepEqual(tlsOf({ Fingerprint: `SHA256:${hex.match(/../g)!.join(':')}` }), pin, 'openssl x509 -fingerprint -sha256');
    assert.deepEqual(tlsOf({ Fingerprint: `SHA256:${digest.toString('base64')}` }), pin);
    assert.deepEqual(tlsOf({ Fingerprint: `SHA256:${digest.toString('base64').replace(/=$/, '')}` }), pin, 'OpenSSH style, no padding');
  });

  it('IPMI: host[:port], 623 by default', () => {
    assert.deepEqual(bmcOf(ipmi), { driver: 'ipmi', endpoint: '10.0.1.12:623', username: 'ADMIN', password: { file: '/run/secrets/ipmi' } });
    assert.equal(bmcOf({ ...ipmi, Endpoint: 'bmc.example:6230' })?.endpoint, 'bmc.example:6230');
    assert.equal(bmcOf({ ...ipmi, Endpoint: '2001:db8::5' })?.endpoint, '[2001:db8::5]:623');
    assert.equal(bmcOf({ ...ipmi, Endpoint: '[2001:db8::5]:1623' })?.endpoint, '[2001:db8::5]:1623');
  });

  it('refuses unknown keys, a missing or unknown driver and bad credentials, naming the entry', () => {
    refused({ ...redfish, Password: 'x' }, /BMC: unknown field\(s\) "Password"/);
    refused({ ...redfish, Driver: 'amt' }, /BMC\.Driver: must be "redfish" or "ipmi"/);
    refused({ Endpoint: 'https://x', Username: 'a', PasswordEnv: 'P' }, /BMC\.Driver/);
    refused({ ...redfish, PasswordFile: '/p' }, /exactly one of PasswordFile and PasswordEnv/);
    refused({ Driver: 'redfish', Endpoint: 'https://x', Username: 'a' }, /exactly one of PasswordFile and PasswordEnv/);
    refused({ ...ipmi, PasswordFile: 'relative.pass' }, /BMC\.PasswordFile: must be an absolute path/);
    refused({ ...redfish, PasswordEnv: 'BAD-NAME' }, /BMC\.PasswordEnv: must be an environment variable name/);
    refused({ ...redfish, Username: 'adm\u0000in' }, /BMC\.Username: contains NUL/);
    refused({ ...ipmi, Username: 'a-very-long-ipmi-user' }, /BMC\.Username: must be at most 16 bytes for IPMI/);
  });

  it('refuses endpoints that do not fit the driver', () => {
    refused({ ...redfish, Endpoint: '10.0.1.1' }, /BMC\.Endpoint: is not a URL/);
    refused({ ...redfish, Endpoint: 'ftp://10.0.1.1' }, /BMC\.Endpoint: must be an http:\/\/ or https:\/\/ URL/);
    refused({ ...redfish, Endpoint: 'https://root:calvin@10.0.1.1' }, /BMC\.Endpoint: must not carry credentials/);
    refused({ ...redfish, Endpoint: 'https://10.0.1.1/redfish/v1' }, /BMC\.Endpoint: must be scheme:\/\/host\[:port\] only/);
    refused({ ...redfish, Endpoint: 'https://10.0.1.1\t' }, /BMC\.Endpoint: contains the control character U\+0009/);
    refused({ ...ipmi, Endpoint: 'https://10.0.1.1' }, /BMC\.Endpoint: is not host\[:port\] for the ipmi driver/);
    refused({ ...ipmi, Endpoint: '10.0.1.1:99999' }, /BMC\.Endpoint: .*port 99999 is outside 1\.\.65535/);
    refused({ ...ipmi, Endpoint: '[10.0.1.1]:623' }, /BMC\.Endpoint: is not host\[:port\]/);
    refused({ ...ipmi, Endpoint: 'bad host!' }, /BMC\.Endpoint: .*is not a host name or IP address/);
  });

  it('refuses Redfish-only keys on IPMI and bad Systems or TLS settings', () => {
    refused({ ...ipmi, System: '1' }, /BMC\.System: applies to the redfish driver only/);
    refused({ ...ipmi, TLS: 'verify' }, /BMC\.TLS: applies to the redfish driver only/);
    refused({ ...redfish, Endpoint: 'http://10.0.1.1', TLS: 'insecure' }, /BMC\.TLS: applies to https:\/\/ endpoints only/);
    refused({ ...redfish, System: '/redfish/v1/Chassis/1' }, /BMC\.System: must be \/redfish\/v1\/Systems\/<Id> or a bare Id/);
    refused({ ...redfish, System: 'a/b' }, /BMC\.System: must be/);
    refused({ ...redfish, TLS: 'none' }, /BMC\.TLS: must be "verify", "insecure"/);
    refused({ ...redfish, TLS: { CACertificate: '/a.pem', Fingerprint: 'SHA256:x' } }, /BMC\.TLS: must be/);
    refused({ ...redfish, TLS: { Pin: 'x' } }, /BMC\.TLS: .*not "Pin"/);
    refused({ ...redfish, TLS: { CACertificate: 'ca.pem' } }, /BMC\.TLS\.CACertificate: must be an absolute path/);
    refused({ ...redfish, TLS: { Fingerprint: 'deadbeef' } }, /BMC\.TLS\.Fingerprint: must be "SHA256:"/);
    refused({ ...redfish, TLS: { Fingerprint: `SHA256:${'a'.repeat(63)}` } }, /BMC\.TLS\.Fingerprint/);
  });

  it('refuses two entries with the same BMC (and System)', () => {
    const list = (a: Record<string, unknown>, b: Record<string, unknown>) => JSON.stringify([{ ID: 'x', Addr: '192.0.2.1', BMC: a }, { ID: 'y', Addr: '192.0.2.2', BMC: b }]);
    assert.throws(() => parseDeviceList(list(redfish, { ...redfish, Endpoint: 'https://BMC-1.example:8443/' }), 'l'), /entry 1 \(ID "y"\): BMC: the same BMC and System as entry 0/);
    assert.throws(() => parseDeviceList(list(ipmi, { ...ipmi, Endpoint: '10.0.1.12:623' }), 'l'), /entry 1 \(ID "y"\): BMC: the same BMC as entry 0/);
    assert.equal(parseDeviceList(list({ ...redfish, System: '1' }, { ...redfish, System: '2' }), 'l').length, 2, 'one BMC, two systems');
  });

  it('the provider gives each entry its BMC, and the ProviderMachine carries none of it', async () => {
    const devices = parseDeviceList(JSON.stringify([EXAMPLE, { ID: 'plain', Addr: '10.0.0.12' }]), 'list.json');
    const provider = MiniProvider.fromDevices({ deviceListUrl: 'list.json' }, devices);
    assert.equal(provider.bmcFor('node-1')?.endpoint, 'https://10.0.1.11');
    assert.equal(provider.bmcFor('plain'), undefined);
    assert.throws(() => provider.bmcFor('nope'), ProviderMachineNotFoundError);
    const machine = await provider.getMachine('node-1');
    assert.ok(!JSON.stringify(machine).includes('10.0.1.11'));
  });
});

describe('BMC passwords', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-bmc-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    await writeFile(path, content, { mode: 0o600 });
    return path;
  };

  it('reads a file, dropping one trailing newline', async () => {
    assert.equal((await resolveBmcPassword({ file: await file('lf', 'pa ss\n') })).reveal(), 'pa ss');
    assert.equal((await resolveBmcPassword({ file: await file('crlf', 'pass\r\n') })).reveal(), 'pass');
    assert.equal((await resolveBmcPassword({ file: await file('none', ' pass ') })).reveal(), ' pass ');
  });

  it('reads an environment variable', async () => {
    assert.equal((await resolveBmcPassword({ env: 'PW' }, { env: { PW: 's3cret' } })).reveal(), 's3cret');
    await assert.rejects(resolveBmcPassword({ env: 'PW' }, { env: {} }), /BMC password variable PW is not set/);
    await assert.rejects(resolveBmcPassword({ env: 'PW' }, { env: { PW: '' } }), /BMC password variable PW is empty/);
  });

  it('errors name the file, never its content', async () => {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['topsecret\ntopsecret2\n', /must hold one line/],
      ['topsecret\n\n', /must hold one line/],
      ['\n', /is empty/],
      [Buffer.concat([Buffer.from('topsecret'), Buffer.from([0xff])]), /is not UTF-8 \(at byte offset 9\)/],
      ['topsecret'.repeat(200), /longer than 1024 bytes/],
    ];
    for (const [i, [content, pattern]] of cases.entries()) {
      const path = await file(`bad-${i}`, content);
      await assert.rejects(resolveBmcPassword({ file: path }), (err: unknown) => {
        assert.ok(err instanceof BmcPasswordError);
        assert.match(err.message, pattern);
        assert.ok(err.message.includes(path));
        assert.ok(!err.message.includes('topsecret'), err.message);
        return true;
      });
    }
    await assert.rejects(resolveBmcPassword({ file: join(dir, 'missing') }), /cannot read BMC password file .*missing: ENOENT/);
  });

  it('a resolved spec is the driver options object, and printing it shows no password', async () => {
    const [device] = parseDeviceList(JSON.stringify([{ ...EXAMPLE, BMC: { ...EXAMPLE.BMC, PasswordFile: await file('node-1', 'topsecret\n') } }]), 'l');
    const resolved = await resolveBmcSpec(device!.BMC!);
    assert.equal(resolved.driver, 'redfish');
    assert.equal(resolved.password.reveal(), 'topsecret');
    for (const text of [JSON.stringify(resolved), inspect(resolved, { depth: 5 }), String(resolved.password)]) assert.ok(!text.includes('topsecret'), text);
  });
});
