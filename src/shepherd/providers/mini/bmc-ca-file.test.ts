// `TLS: { "CACertificate": "/path.pem" }` in a device list: the driver is given
// the file's PEM (it once got the path, which no TLS stack can parse), a BMC
// whose certificate another CA issued is refused, and a missing file is an
// error naming the file.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBmcCertificate } from '../../../sim/redfish-bmc-cert.ts';
import { FakeRedfishBmc } from '../../../sim/redfish-bmc.ts';
import { parseDeviceList } from './device-list.ts';
import { MiniProvider } from './mini-provider.ts';

const PASSWORD = 'bmc-ca-file-test-password';

describe('mini provider: a BMC trusted through a CA certificate file', () => {
  let dir: string;
  let bmc: FakeRedfishBmc;
  let passwordFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bmaas-mini-ca-'));
    bmc = await new FakeRedfishBmc({ username: 'admin', password: PASSWORD }).start();
    passwordFile = join(dir, 'node-1.pass');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), bmc.certificate.caPem);
    await writeFile(join(dir, 'other-ca.pem'), (await createBmcCertificate('another BMC')).caPem);
  });
  after(async () => {
    await bmc?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function statusWith(caFile: string): Promise<unknown> {
    const list = [{ ID: 'node-1', Addr: '127.0.0.1:2201', BMC: { Driver: 'redfish', Endpoint: bmc.endpoint, Username: 'admin', PasswordFile: passwordFile, TLS: { CACertificate: caFile } } }];
    const provider = MiniProvider.fromDevices({ deviceListUrl: 'test', bmcTimeouts: { attempts: 1 } }, parseDeviceList(JSON.stringify(list), 'test'));
    try {
      return await provider.providerStatus('node-1');
    } finally {
      await provider.close();
    }
  }

  it('reads the PEM from the file and reaches the BMC', async () => {
    assert.equal(await statusWith(join(dir, 'ca.pem')), 'Running');
  });

  it('refuses a BMC whose certificate that CA did not issue', async () => {
    await assert.rejects(statusWith(join(dir, 'other-ca.pem')), (err: Error) => !String(err.message).includes(PASSWORD));
  });

  it('names a CA file that cannot be read', async () => {
    await assert.rejects(statusWith(join(dir, 'missing.pem')), /cannot read the CA certificate .*missing\.pem of BMC https:\/\/127\.0\.0\.1:\d+: ENOENT/);
  });
});
