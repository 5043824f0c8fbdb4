// The dev scripts' handle on a daemon they did not start: the process whose
// id a pid file holds (the loopback host's sshd and agent daemon).
import { readFileSync } from 'node:fs';

/** Sends `signal` to the process the file names; returns its id, or undefined when there was none to signal. */
export function signalFromPidFile(file: string, signal: NodeJS.Signals = 'SIGTERM'): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    process.kill(pid, signal);
    return pid;
  } catch {
    return undefined; // already gone
  }
}
