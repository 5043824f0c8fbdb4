// Names the schema uses, as TypeScript types. The arrays mirror the enums in
// migrations/*.sql; a test checks they agree with the database.

export const PROCESSES = ['UnitTest1', 'UnitTest2', 'ShepherdAccess', 'ShepherdAgentStart', 'ShepherdRecovery'] as const;
export type Process = (typeof PROCESSES)[number];

export const PROVIDERS = ['Equinix', 'Lumen', 'None', 'Sim'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const PROVIDER_STATUSES = ['Missing', 'Provisioning', 'ProvisioningFailedPermanent', 'Running', 'Stopped', 'Unknown'] as const;
export type ProviderStatus = (typeof PROVIDER_STATUSES)[number];

export const WORK_HISTORY_EVENTS = ['Started', 'Finished', 'Failed', 'Canceled'] as const;
export type WorkHistoryEvent = (typeof WORK_HISTORY_EVENTS)[number];

export type OsInstallationResult = 'Success' | 'Error';

/** Metrics label naming which component runs a transaction (docs/architecture.md#metrics). */
export type Processor =
  | 'shepherd-initializer'
  | 'shepherd-provisioner'
  | 'shepherd-recoverer'
  | 'shepherd-updater'
  | 'bmsrv'
  | 'scruffy-stats'
  | 'webug'
  | 'operator'
  | 'unittest'
  | 'bench';

/** The processes whose active work keeps a machine out of agent start and recovery. */
export const SHEPHERD_PROCESSES: readonly Process[] = ['ShepherdAccess', 'ShepherdAgentStart', 'ShepherdRecovery'];
