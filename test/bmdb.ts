// Runs a BMDB suite against every database it must hold on: embedded PGlite,
// and (when available) PostgreSQL at READ COMMITTED and at SERIALIZABLE,
// each `open()` on a fresh database.
import { after, describe } from 'node:test';
import { Registry } from 'prom-client';
import { openBmdb, type Bmdb, type BmdbOptions, type Provider, type Session, type SessionOptions } from '../src/bmdb/index.ts';
import { createTestDatabase, describePostgres, type TestDatabase } from './pg.ts';

export type OpenBmdb = (opts?: Omit<BmdbOptions, 'url'>) => Promise<Bmdb>;

export interface BmdbTarget {
  readonly name: 'pglite' | 'postgres' | 'postgres-serializable';
  readonly open: OpenBmdb;
}

function opener(kind: BmdbTarget['name']): OpenBmdb {
  const opened: Array<{ bmdb: Bmdb; db?: TestDatabase }> = [];
  after(async () => {
    for (const o of opened.reverse()) {
      await o.bmdb.close().catch(() => {});
      await o.db?.drop().catch(() => {});
    }
  });
  return async (opts = {}) => {
    const base = { migrate: true, metricsRegistry: new Registry(), ...opts };
    if (kind === 'pglite') {
      const bmdb = await openBmdb({ ...base, url: 'pglite://memory' });
      opened.push({ bmdb });
      return bmdb;
    }
    const db = await createTestDatabase();
    const bmdb = await openBmdb({ ...base, url: db.url, isolation: kind === 'postgres-serializable' ? 'serializable' : 'read committed' });
    opened.push({ bmdb, db });
    return bmdb;
  };
}

/** The BMDB contract: the same tests on PGlite and on PostgreSQL at both isolation levels. */
export function describeBmdb(name: string, fn: (target: BmdbTarget) => void): void {
  describe(`[pglite] ${name}`, () => fn({ name: 'pglite', open: opener('pglite') }));
  describePostgres(name, () => fn({ name: 'postgres', open: opener('postgres') }));
  describePostgres(`${name} (serializable)`, () => fn({ name: 'postgres-serializable', open: opener('postgres-serializable') }));
}

/** PostgreSQL only: concurrency, locks and retries, which PGlite cannot show. */
export function describeBmdbConcurrency(name: string, fn: (open: OpenBmdb) => void): void {
  describePostgres(name, () => fn(opener('postgres')));
  describePostgres(`${name} (serializable)`, () => fn(opener('postgres-serializable')));
}

/** Creates `n` machines provided by `provider` (ids p-0, p-1, ...) and returns their ids. */
export async function provideMachines(bmdb: Bmdb, n: number, opts: { provider?: Provider; prefix?: string } = {}): Promise<string[]> {
  return bmdb.transact('unittest', async (q) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = await q.newMachine();
      await q.addProvided({ machineId: m.machineId, provider: opts.provider ?? 'None', providerId: `${opts.prefix ?? 'p'}-${i}` });
      ids.push(m.machineId);
    }
    return ids;
  });
}

/**
 * Starts a session and returns it with `hang()`, which stops its keep-alive
 * as a hung or crashed process would, while the object still believes it is
 * alive (so its later writes show the database-side fencing).
 */
export async function startHangableSession(bmdb: Bmdb, opts: Omit<SessionOptions, 'keepAliveSignal'>): Promise<{ session: Session; hang: () => void }> {
  const keepAlive = new AbortController();
  const session = await bmdb.startSession({ ...opts, keepAliveSignal: keepAlive.signal });
  return { session, hang: () => keepAlive.abort() };
}
