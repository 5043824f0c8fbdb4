// The typed query surface. Every query is a plain function taking a
// `Queryable` first; `bindQueries` turns the set into methods bound to one
// transaction (what the Go code called `model.Queries`).
import type { Queryable } from '../driver.ts';
import * as audit from './audit.ts';
import * as candidates from './candidates.ts';
import * as fleetState from './fleet-state.ts';
import * as heartbeats from './heartbeats.ts';
import * as history from './history.ts';
import * as hostKeys from './host-keys.ts';
import * as machines from './machines.ts';
import * as machineState from './machine-state.ts';
import * as operator from './operator.ts';
import * as quarantine from './quarantine.ts';
import * as stats from './stats.ts';
import * as stormGuard from './storm-guard.ts';
import * as tags from './tags.ts';
import * as workDue from './work-due.ts';

const all = {
  ...audit,
  ...candidates,
  ...fleetState,
  ...heartbeats,
  ...history,
  ...hostKeys,
  ...machines,
  ...machineState,
  ...operator,
  ...quarantine,
  ...stats,
  ...stormGuard,
  ...tags,
  ...workDue,
};

type All = typeof all;
export type Queries = {
  readonly [K in keyof All]: All[K] extends (db: Queryable, ...rest: infer A) => infer R ? (...args: A) => R : never;
} & {
  /** The transaction itself, for statements that have no typed wrapper (tests, tools). */
  readonly db: Queryable;
};

// Each query is bound to the transaction when it is looked up, not all of
// them up front: a transaction uses two or three of the dozens there are, and
// binding them all cost more than some of its statements.
const queryNames = new Set(Object.keys(all));
const bindOnLookup: ProxyHandler<{ db: Queryable }> = {
  get(target, name) {
    if (name === 'db') return target.db;
    if (typeof name !== 'string' || !queryNames.has(name)) return undefined;
    const fn = all[name as keyof All] as (db: Queryable, ...rest: unknown[]) => unknown;
    return (...args: unknown[]) => fn(target.db, ...args);
  },
};

export function bindQueries(db: Queryable): Queries {
  return new Proxy({ db }, bindOnLookup) as unknown as Queries;
}

export * from './actors.ts';
export * from './audit.ts';
export * from './candidates.ts';
export { agentStartCandidateStatement, type CandidateStatement } from './candidate-scan.ts';
export * from './fleet-state.ts';
export * from './heartbeats.ts';
export * from './history.ts';
export * from './host-keys.ts';
export * from './machines.ts';
export * from './machine-state.ts';
export { stuckMachinesSql, type StuckSelection } from './machine-state-sql.ts';
export * from './operator.ts';
export * from './machine-state-limits.ts';
export * from './predicates.ts';
export * from './quarantine.ts';
export * from './rows.ts';
export * from './sql-params.ts';
export * from './stats.ts';
export * from './storm-guard.ts';
export * from './tags.ts';
export * from './work-due.ts';
