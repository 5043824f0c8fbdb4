// A simulated fleet for `bmaas dev` and tests: SSH endpoints and Redfish BMCs
// in this process whose "machines" run the real agent code against the real
// callback server.
export { FAULT_DESCRIPTIONS, FAULT_KINDS, FaultPlanError, NO_FAULTS, planFaults, validateFaultFractions, type Fault, type FaultFractions, type FaultKind } from './fault-plan.ts';
export { MAX_SIM_MACHINES, SimFleet, simMachineId, type SimFleetMachine, type SimFleetOptions } from './sim-fleet.ts';
export { SimFleetThread, SimFleetWorkerError } from './sim-fleet-thread.ts';
export type { SimBmcAccess, SimTiming } from './sim-machine.ts';
export type { SimBmcTiming } from './sim-bmc.ts';
export { simulatedHardware } from './sim-hardware.ts';
export { serveUploadSftp, type UploadedFile } from './sftp-upload-server.ts';
export { FakeRedfishBmc, type FakeRedfishBmcOptions, type ReceivedReset, type ResetAnswerCount } from './redfish-bmc.ts';
export { createBmcCertificate, type BmcCertificate } from './redfish-bmc-cert.ts';
