// The default logger for library code that was given none: silent, so a
// library never writes to a terminal it does not own.
import pino, { type Logger } from 'pino';

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
