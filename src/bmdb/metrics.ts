// BMDB client counters (docs/architecture.md#metrics), registered on the caller's registry.
import { Counter } from 'prom-client';
import { perRegistry } from '../lib/per-registry.ts';

export interface BmdbMetrics {
  readonly sessionStarted: Counter<'processor'>;
  readonly transactionExecuted: Counter<'processor'>;
  readonly transactionRetried: Counter<'processor'>;
  readonly transactionFailed: Counter<'processor'>;
  readonly transactionRetriesExhausted: Counter<'processor'>;
  readonly workStarted: Counter<'processor' | 'process'>;
  readonly workFinished: Counter<'processor' | 'process' | 'result'>;
}

export const bmdbMetrics = perRegistry((registry): BmdbMetrics => {
  const registers = [registry];
  const metrics: BmdbMetrics = {
    sessionStarted: new Counter({ name: 'bmdb_session_started', help: 'BMDB sessions started', labelNames: ['processor'], registers }),
    transactionExecuted: new Counter({ name: 'bmdb_transaction_executed', help: 'BMDB transaction attempts started', labelNames: ['processor'], registers }),
    transactionRetried: new Counter({ name: 'bmdb_transaction_retried', help: 'BMDB transactions retried after a serialization failure or deadlock', labelNames: ['processor'], registers }),
    transactionFailed: new Counter({ name: 'bmdb_transaction_failed', help: 'BMDB transactions that ended in an error', labelNames: ['processor'], registers }),
    transactionRetriesExhausted: new Counter({
      name: 'bmdb_transaction_retries_exhausted',
      help: 'BMDB transactions that failed because every retry of a serialization failure or deadlock was used up',
      labelNames: ['processor'],
      registers,
    }),
    workStarted: new Counter({ name: 'bmdb_work_started', help: 'BMDB work items started', labelNames: ['processor', 'process'], registers }),
    workFinished: new Counter({ name: 'bmdb_work_finished', help: 'BMDB work items ended, by result (finished, canceled, failed)', labelNames: ['processor', 'process', 'result'], registers }),
  };
  return metrics;
});
