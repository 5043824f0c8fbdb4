// How long a PostgreSQL connection may stay silent before we give up on it.
// A database that goes away cleanly closes its sockets; one behind a broken
// network path (a dead NAT entry, a load balancer that forgets the flow, a
// host frozen mid-write) leaves them open and silent. Without bounds a query
// on such a connection waits forever: the keep-alive of a session hangs with
// it, and a transaction the server still has open keeps its row locks. Each
// bound below is one of those failures; a parameter of the same name in the
// --bmdb-url (`?statement_timeout=…`) overrides it for that deployment.
import { z } from 'zod';

export interface PgTimeouts {
  /** A new connection that is not ready (TCP, TLS, startup, session check) in this long fails. */
  readonly connectTimeoutMs: number;
  /** Client side (pg `query_timeout`): a query with no answer in this long fails and its connection is dropped. */
  readonly queryTimeoutMs: number;
  /** Server side (`statement_timeout`): the server cancels a statement running longer; below queryTimeoutMs so the server's own error comes first. */
  readonly statementTimeoutMs: number;
  /** Server side (`idle_in_transaction_session_timeout`): a transaction whose client went silent is rolled back, freeing its locks. */
  readonly idleInTransactionTimeoutMs: number;
  /** TCP keep-alive probes start after this much silence, so a peer that vanished is noticed by the kernel too. */
  readonly keepAliveInitialDelayMs: number;
}

/** The defaults: long enough for the slowest legitimate statement (a webug page over a large fleet), short enough that a silent connection costs a session at most one deadline or so. */
export const PG_TIMEOUT_DEFAULTS: PgTimeouts = Object.freeze({
  connectTimeoutMs: 10_000,
  queryTimeoutMs: 20_000,
  statementTimeoutMs: 15_000,
  idleInTransactionTimeoutMs: 60_000,
  keepAliveInitialDelayMs: 10_000,
});

const ms = z.number().int().min(100).max(3_600_000);

export const pgTimeoutsSchema = z
  .object({
    connectTimeoutMs: ms.default(PG_TIMEOUT_DEFAULTS.connectTimeoutMs),
    queryTimeoutMs: ms.default(PG_TIMEOUT_DEFAULTS.queryTimeoutMs),
    statementTimeoutMs: ms.default(PG_TIMEOUT_DEFAULTS.statementTimeoutMs),
    idleInTransactionTimeoutMs: ms.default(PG_TIMEOUT_DEFAULTS.idleInTransactionTimeoutMs),
    keepAliveInitialDelayMs: ms.default(PG_TIMEOUT_DEFAULTS.keepAliveInitialDelayMs),
  })
  .refine((t) => t.statementTimeoutMs < t.queryTimeoutMs, { message: 'statementTimeoutMs must be below queryTimeoutMs', path: ['statementTimeoutMs'] })
  .default(PG_TIMEOUT_DEFAULTS);

/** The node-postgres client settings for these bounds. */
export function pgClientTimeouts(t: PgTimeouts): {
  connectionTimeoutMillis: number;
  query_timeout: number;
  statement_timeout: number;
  idle_in_transaction_session_timeout: number;
  keepAlive: true;
  keepAliveInitialDelayMillis: number;
} {
  return {
    connectionTimeoutMillis: t.connectTimeoutMs,
    query_timeout: t.queryTimeoutMs,
    statement_timeout: t.statementTimeoutMs,
    idle_in_transaction_session_timeout: t.idleInTransactionTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: t.keepAliveInitialDelayMs,
  };
}

/** True for node-postgres's client-side timeout: the connection's state is unknown and it must not be reused. */
export function isQueryReadTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}
