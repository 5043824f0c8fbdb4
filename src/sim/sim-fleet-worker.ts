// The body of SimFleetThread's worker: starts a SimFleet in this thread and
// answers the parent's requests. Log lines go to the parent as they are
// written, which logs them into its own log. The messages both sides send are
// the types in sim-fleet-messages.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { Writable } from 'node:stream';
import pino from 'pino';
import { LOG_SERIALIZERS } from '../lib/log-serializers.ts';
import type { FleetToParent, ParentToFleet, SimFleetWorkerData } from './sim-fleet-messages.ts';
import { SimFleet } from './sim-fleet.ts';

const port = parentPort;
if (!port) throw new Error('sim-fleet-worker.ts runs only as a worker thread (see SimFleetThread)');
const post = (m: FleetToParent): void => port.postMessage(m);
const data = workerData as SimFleetWorkerData;

const lines = new Writable({
  write(chunk: Buffer | string, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line) post({ type: 'log', line });
    done();
  },
});
const logger = pino({ level: data.logLevel, serializers: LOG_SERIALIZERS }, lines);

/** CPU time this thread used so far (user and system). */
function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

let fleet: SimFleet | undefined;
const starting = SimFleet.start({ ...data.options, logger }).then(
  (started) => {
    fleet = started;
    post({ type: 'started', machines: started.list(), bmcCaFile: started.bmcCaFile });
    return started;
  },
  (err: unknown) => {
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    return undefined;
  },
);
let stopping: Promise<void> | undefined;

port.on('message', (m: ParentToFleet) => {
  switch (m.type) {
    case 'resetCounts':
      post({ type: 'resetCounts', id: m.id, counts: fleet?.bmcResetCounts() ?? [], cpuMs: threadCpuMs() });
      return;
    case 'stop':
      // A stop during the start waits for it, so no machine is left serving.
      stopping ??= starting
        .then((f) => f?.stop())
        .then(() => {
          post({ type: 'stopped' });
          port.close();
        });
      return;
  }
});
