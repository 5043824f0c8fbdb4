export { VERSION, runtimeInfo } from './version.ts';
export { sleep } from './sleep.ts';
export { silentLogger } from './logger.ts';
