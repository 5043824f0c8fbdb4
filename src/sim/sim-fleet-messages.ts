// What SimFleetThread and its worker (sim-fleet-worker.ts) say to each other.
import type { ResetAnswerCount } from './redfish-bmc.ts';
import type { SimFleetMachine, SimFleetOptions } from './sim-fleet.ts';

/** The worker's start parameters: the fleet's options without the logger, and the level of the one the worker makes. */
export interface SimFleetWorkerData {
  readonly options: Omit<SimFleetOptions, 'logger'>;
  readonly logLevel: string;
}

export type ParentToFleet = { readonly type: 'resetCounts'; readonly id: number } | { readonly type: 'stop' };

export type FleetToParent =
  | { readonly type: 'started'; readonly machines: readonly SimFleetMachine[]; readonly bmcCaFile: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'resetCounts'; readonly id: number; readonly counts: readonly ResetAnswerCount[]; readonly cpuMs: number }
  | { readonly type: 'stopped' };
