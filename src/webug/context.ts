// What every page handler gets: read-only database access, the discovered
// tags and schema version (cached briefly: the schema changes only with a
// migration), the thresholds the explain view uses and the stuck limits.
import { DEFAULT_STUCK_LIMITS, migrationStatus, type Bmdb, type RecoveryThresholds, type StuckLimits } from '../bmdb/index.ts';
import { readEnumLabels, type EnumLabels } from './enum-labels.ts';
import { readOnly, type ReadFn } from './read-only.ts';
import { discoverTags, type TagTable } from './tag-schema.ts';

export interface SchemaInfo {
  readonly tags: readonly TagTable[];
  readonly schemaVersion: number;
  readonly latestKnownVersion: number;
  /** Enum labels as the database has them, newer values included. */
  readonly enumLabels: EnumLabels;
}

export interface WebugContext {
  readonly read: ReadFn;
  readonly database: string;
  readonly thresholds: RecoveryThresholds;
  /** How long a machine may stay in each derived state before it is stuck. */
  readonly stuckLimits: StuckLimits;
  schema(signal?: AbortSignal): Promise<SchemaInfo>;
}

const SCHEMA_CACHE_MS = 10_000;

export function createContext(bmdb: Bmdb, thresholds: RecoveryThresholds, stuckLimits: StuckLimits = DEFAULT_STUCK_LIMITS): WebugContext {
  const read = readOnly(bmdb);
  let cached: { at: number; info: Promise<SchemaInfo> } | undefined;
  return {
    read,
    database: bmdb.description,
    thresholds,
    stuckLimits,
    schema(signal) {
      if (!cached || Date.now() - cached.at > SCHEMA_CACHE_MS) {
        const info = (async () => {
          // Every read in one READ ONLY transaction: the status is a pure read.
          return read(async (db) => {
            const status = await migrationStatus(db, { signal });
            const tags = await discoverTags(db, { signal });
            const enumLabels = await readEnumLabels(db, { signal });
            return { tags, schemaVersion: status.current, latestKnownVersion: status.latestKnown, enumLabels };
          }, { signal });
        })();
        cached = { at: Date.now(), info };
        // A failed lookup must not stick in the cache.
        info.catch(() => {
          if (cached?.info === info) cached = undefined;
        });
      }
      return cached.info;
    },
  };
}
