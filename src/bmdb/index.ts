// Public surface of the BMDB library.
export { openBmdb, resolveBmdbOptions, Bmdb, type BmdbOptions, type ResolvedBmdbOptions } from './connection.ts';
export { Session, type SessionOptions } from './session.ts';
export { SessionKeeper, type SessionKeeperOptions, type SessionStarter } from './session-keeper.ts';
export { Work, type ClaimedRow, type ExistingBackoff, type WorkState } from './work.ts';
export { nextBackoffSeconds, backoffDelayMs, type Backoff } from './backoff.ts';
export {
  SessionExpiredError,
  WorkConflictError,
  StaleClaimError,
  NothingToDoError,
  WorkLostError,
  WorkClosedError,
  BmdbConfigError,
  MigrationError,
  NoSuitableHostError,
  sqlState,
} from './errors.ts';
export { RETRYABLE_SQLSTATES, DEFAULT_RETRY_POLICY, isRetryable, type RetryPolicy } from './retry.ts';
export { bmdbMetrics, type BmdbMetrics } from './metrics.ts';
export { loadMigrations, migrationStatus, type Migration, type MigrationStatus } from './migrations.ts';
export { parseBmdbUrl, type BmdbTarget } from './url.ts';
export { PG_TIMEOUT_DEFAULTS, type PgTimeouts } from './pg-timeouts.ts';
export type { Queryable, Driver, IsolationLevel } from './driver.ts';
export * from './model.ts';
export * from './queries/index.ts';
export { ROLE_GRANTS, rolesSql, roleName, inspectRoleTarget, applyRoles, type RoleSpec, type RoleComponent, type RoleTarget, type RolesScript, type TablePrivilege } from './roles.ts';
