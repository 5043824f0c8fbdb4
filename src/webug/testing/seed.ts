// Test and demo data written straight into the tables, the way the real
// components would leave them: machines with tags, sessions holding work,
// backoffs and history. Not for production databases.
import { randomBytes } from 'node:crypto';
import type { Process, Provider, ProviderStatus, Queryable, WorkHistoryEvent } from '../../bmdb/index.ts';
import { AgentHardwareReportSchema, BlockDevice_Protocol, encodeMessage, OSInstallationReportSchema, OSInstallationRequestSchema } from '../../proto/index.ts';

export interface SeedMachine {
  readonly provider?: Provider | null;
  readonly providerId?: string;
  readonly address?: string | null;
  readonly location?: string | null;
  readonly status?: ProviderStatus | null;
  readonly agentStartedSecondsAgo?: number;
  readonly heartbeatSecondsAgo?: number;
  readonly hardwareReport?: boolean;
  readonly installRequestGeneration?: number;
  readonly installReport?: { generation: number; result: 'Success' | 'Error' };
}

const ago = (seconds: number) => `now() - ${Number(seconds)} * interval '1 second'`;

export function sampleHardwareReport(): Uint8Array {
  return encodeMessage(AgentHardwareReportSchema, {
    report: {
      manufacturer: 'Supermicro',
      product: 'SYS-1029P-WTR',
      serialNumber: 'S123456X',
      memoryInstalledBytes: 256n * 1024n ** 3n,
      memoryUsableRatio: 0.98,
      cpu: [0, 1].map(() => ({ vendor: 'GenuineIntel', model: 'Intel(R) Xeon(R) Gold 6230', cores: 20, hardwareThreads: 40, architecture: { case: 'x8664' as const, value: { family: 6, model: 85, stepping: 7 } } })),
      blockDevice: [
        { vendor: 'Samsung', deviceModel: 'PM983', serialNumber: 'NVME0001', capacityBytes: 1_920_383_410_176n, protocol: BlockDevice_Protocol.NVME, logicalBlockSizeBytes: 512, physicalBlockSizeBytes: 4096 },
        { vendor: 'Samsung', deviceModel: 'PM983', serialNumber: 'NVME0002', capacityBytes: 1_920_383_410_176n, protocol: BlockDevice_Protocol.NVME, logicalBlockSizeBytes: 512, physicalBlockSizeBytes: 4096 },
      ],
      networkInterface: [
        { mac: new Uint8Array([0x0c, 0xc4, 0x7a, 0x12, 0x34, 0x56]), driver: 'ixgbe', linkUp: true, currentSpeedBytes: 1_250_000_000n, supportedSpeedBytes: [1_250_000_000n] },
        { mac: new Uint8Array([0x0c, 0xc4, 0x7a, 0x12, 0x34, 0x57]), driver: 'ixgbe', linkUp: false, currentSpeedBytes: 0n },
      ],
    },
    warning: ['SMBIOS table truncated'],
  });
}

let counter = 0;

/** Inserts a machine and the tags asked for; returns its id. */
export async function seedMachine(db: Queryable, m: SeedMachine = {}): Promise<string> {
  const r = await db.query('INSERT INTO machines DEFAULT VALUES RETURNING machine_id');
  const id = String(r.rows[0]!.machine_id);
  if (m.provider !== null) {
    counter++;
    await db.query(
      `INSERT INTO machine_provided (machine_id, provider, provider_id, provider_ip_address, provider_location, provider_status)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, m.provider ?? 'Equinix', m.providerId ?? `seed-${counter}-${randomBytes(3).toString('hex')}`, m.address ?? null, m.location ?? null, m.status ?? null],
    );
  }
  if (m.agentStartedSecondsAgo !== undefined) {
    await db.query(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, ${ago(m.agentStartedSecondsAgo)}, $2)`, [id, randomBytes(32)]);
  }
  if (m.heartbeatSecondsAgo !== undefined) await db.query(`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, ${ago(m.heartbeatSecondsAgo)})`, [id]);
  if (m.hardwareReport) await db.query('INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) VALUES ($1, $2)', [id, sampleHardwareReport()]);
  if (m.installRequestGeneration !== undefined) {
    const raw = encodeMessage(OSInstallationRequestSchema, {
      generation: BigInt(m.installRequestGeneration),
      type: { case: 'metropolis', value: { bundleUrl: 'https://example.com/bundle.zip', rootDevice: 'nvme0n1' } },
    });
    await db.query('INSERT INTO machine_os_installation_request (machine_id, generation, os_installation_request_raw) VALUES ($1, $2, $3)', [id, m.installRequestGeneration, raw]);
  }
  if (m.installReport) {
    const g = m.installReport.generation;
    const raw = encodeMessage(OSInstallationReportSchema, {
      generation: BigInt(g),
      result: m.installReport.result === 'Success' ? { case: 'success', value: {} } : { case: 'error', value: { error: 'disk not found' } },
    });
    await db.query('INSERT INTO machine_os_installation_report (machine_id, generation, os_installation_result, os_installation_report_raw) VALUES ($1, $2, $3, $4)', [id, g, m.installReport.result, raw]);
  }
  return id;
}

export async function seedSession(db: Queryable, s: { component: string; runtimeInfo?: string; deadlineInSeconds?: number; createdSecondsAgo?: number }): Promise<string> {
  const r = await db.query(
    `INSERT INTO sessions (session_component_name, session_runtime_info, session_created_at, session_interval_seconds, session_deadline)
     VALUES ($1, $2, ${ago(s.createdSecondsAgo ?? 60)}, 5, now() + ${Number(s.deadlineInSeconds ?? 300)} * interval '1 second') RETURNING session_id`,
    [s.component, s.runtimeInfo ?? 'host=seed pid=1 version=0.0.0'],
  );
  return String(r.rows[0]!.session_id);
}

export async function seedHistory(db: Queryable, h: { machineId: string; process: Process; event: WorkHistoryEvent; secondsAgo?: number; cause?: string | null }): Promise<void> {
  await db.query(`INSERT INTO work_history (machine_id, process, event, timestamp, failed_cause) VALUES ($1, $2, $3, ${ago(h.secondsAgo ?? 0)}, $4)`, [
    h.machineId,
    h.process,
    h.event,
    h.cause ?? null,
  ]);
}

/** Work held by a session, with the Started history row the BMDB writes with it. */
export async function seedWork(db: Queryable, w: { machineId: string; sessionId: string; process: Process; startedSecondsAgo?: number }): Promise<void> {
  await db.query('INSERT INTO work (machine_id, session_id, process) VALUES ($1, $2, $3)', [w.machineId, w.sessionId, w.process]);
  await seedHistory(db, { machineId: w.machineId, process: w.process, event: 'Started', secondsAgo: w.startedSecondsAgo ?? 30 });
}

/** A backoff (active when untilInSeconds > 0) and the Failed history row that caused it. */
export async function seedBackoff(db: Queryable, b: { machineId: string; process: Process; untilInSeconds: number; cause: string; intervalSeconds?: number }): Promise<void> {
  await db.query(
    `INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds) VALUES ($1, $2, now() + ${Number(b.untilInSeconds)} * interval '1 second', $3, $4)`,
    [b.machineId, b.process, b.cause, b.intervalSeconds ?? 60],
  );
  await seedHistory(db, { machineId: b.machineId, process: b.process, event: 'Started', secondsAgo: 120 });
  await seedHistory(db, { machineId: b.machineId, process: b.process, event: 'Failed', secondsAgo: 100, cause: b.cause });
}

export const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"\'&';

export interface DemoFleet {
  readonly healthy: string;
  readonly busy: string;
  readonly backingOff: string;
  readonly silent: string;
  readonly fresh: string;
  readonly hostile: string;
  readonly installed: string;
  readonly session: string;
}

/** A small fleet with one machine in each interesting state, including hostile text. */
export async function seedDemoFleet(db: Queryable): Promise<DemoFleet> {
  const session = await seedSession(db, { component: 'shepherd-initializer', runtimeInfo: 'host=ops-1 pid=4242 version=0.1.0 node=v24.0.0', createdSecondsAgo: 3600 });
  const healthy = await seedMachine(db, { providerId: 'eqx-da11-0001', address: '147.75.10.1', location: 'da11', status: 'Running', agentStartedSecondsAgo: 7200, heartbeatSecondsAgo: 4, hardwareReport: true });
  await seedHistory(db, { machineId: healthy, process: 'ShepherdAgentStart', event: 'Started', secondsAgo: 7300 });
  await seedHistory(db, { machineId: healthy, process: 'ShepherdAgentStart', event: 'Finished', secondsAgo: 7200 });
  const busy = await seedMachine(db, { providerId: 'eqx-da11-0002', address: '147.75.10.2', location: 'da11', status: 'Running' });
  await seedWork(db, { machineId: busy, sessionId: session, process: 'ShepherdAgentStart', startedSecondsAgo: 42 });
  const backingOff = await seedMachine(db, { providerId: 'eqx-ny5-0003', address: '147.75.20.3', location: 'ny5', status: 'Running' });
  await seedBackoff(db, { machineId: backingOff, process: 'ShepherdAgentStart', untilInSeconds: 540, cause: 'ssh: handshake failed: connection refused after 3 attempts' });
  const silent = await seedMachine(db, { provider: 'Lumen', providerId: 'lumen-77', address: '10.20.30.40', location: 'den1', status: 'Running', agentStartedSecondsAgo: 86400, heartbeatSecondsAgo: 1800, hardwareReport: true });
  const fresh = await seedMachine(db, { providerId: 'eqx-ny5-0005', address: null, location: 'ny5', status: 'Provisioning' });
  const hostile = await seedMachine(db, { providerId: `evil-${HOSTILE}`.slice(0, 128), address: HOSTILE, location: HOSTILE, status: 'Unknown' });
  await seedBackoff(db, { machineId: hostile, process: 'ShepherdAgentStart', untilInSeconds: 300, cause: `boom ${HOSTILE}` });
  const installed = await seedMachine(db, { providerId: 'eqx-sv15-0007', address: '147.75.30.7', location: 'sv15', status: 'Running', agentStartedSecondsAgo: 9000, heartbeatSecondsAgo: 8, hardwareReport: true, installRequestGeneration: 2, installReport: { generation: 2, result: 'Success' } });
  return { healthy, busy, backingOff, silent, fresh, hostile, installed, session };
}
