import assert from 'node:assert/strict';
import { it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { describeBmdb, provideMachines } from '../../test/bmdb.ts';
import { DEFAULT_RECOVERY_THRESHOLDS } from '../bmdb/index.ts';
import { OSInstallationProgress_Stage, OSInstallationProgressSchema, OSInstallationReportSchema, OSInstallationRequestSchema } from '../proto/index.ts';
import { createContext, loadMachine } from './index.ts';
import { machinePage } from './pages/machine-page.ts';

describeBmdb('installation state', ({ open }) => {
  it('follows a machine from pending through installing to failed, and a next request to done, on the page too', async () => {
    const bmdb = await open();
    const [m] = await provideMachines(bmdb, 1);
    const ctx = createContext(bmdb, DEFAULT_RECOVERY_THRESHOLDS);
    const state = async () => (await loadMachine(ctx, m!)).installation;
    const request = (generation: number) =>
      bmdb.transact('unittest', (q) =>
        q.setOsInstallationRequest({
          machineId: m!,
          generation,
          raw: toBinary(OSInstallationRequestSchema, create(OSInstallationRequestSchema, { generation: BigInt(generation), type: { case: 'image', value: { url: 'https://img.test/os.img', sha256: new Uint8Array(32), targetDevice: '/dev/sda' } } })),
        }),
      );
    const progress = (generation: number, bytesDone: bigint) =>
      bmdb.transact('unittest', (q) =>
        q.setOsInstallationProgress({ machineId: m!, generation, raw: toBinary(OSInstallationProgressSchema, create(OSInstallationProgressSchema, { generation: BigInt(generation), stage: OSInstallationProgress_Stage.WRITING, bytesDone, bytesTotal: 4n * 1024n * 1024n })) }),
      );
    const report = (generation: number, error?: string) =>
      bmdb.transact('unittest', (q) =>
        q.setOsInstallationReport({
          machineId: m!,
          generation,
          result: error ? 'Error' : 'Success',
          raw: toBinary(OSInstallationReportSchema, create(OSInstallationReportSchema, { generation: BigInt(generation), result: error ? { case: 'error', value: { error } } : { case: 'success', value: {} } })),
        }),
      );

    assert.equal(await state(), null);
    await request(1);
    assert.deepEqual([(await state())?.phase, (await state())?.summary, (await state())?.what], ['pending', 'generation 1 pending: the agent has not started it', 'image https://img.test/os.img onto /dev/sda']);
    await progress(1, 1024n * 1024n);
    const installing = await state();
    assert.equal(installing?.phase, 'installing');
    assert.equal(installing?.summary, 'generation 1 installing: writing 1.0 MiB of 4.0 MiB');
    assert.ok(installing?.progress?.reportedAt instanceof Date);
    await report(1, 'image SHA-256 mismatch: …');
    assert.deepEqual([(await state())?.phase, (await state())?.error], ['failed', 'image SHA-256 mismatch: …']);
    await request(2);
    assert.equal((await state())?.phase, 'pending', 'the progress of generation 1 does not count for 2');
    await report(2);
    const done = await state();
    assert.equal(done?.summary, 'generation 2 done');
    const page = machinePage(await loadMachine(ctx, m!)).toString();
    assert.match(page, /class="meta installation" data-phase="done" data-generation="2">OS installation: <span class="badge ok">done<\/span> generation 2 done/);
  });
});
