// How errors are written into structured logs. pino's standard error
// serializer copies every enumerable property, and node-postgres hangs the
// whole client (connection parameters, buffers, the text of every prepared
// statement) on the errors its pool reports, several kilobytes per line. The
// client says nothing the message, code and stack do not, so it is left out.
import pino from 'pino';

/** Error properties never written to a log line. */
const DROPPED = ['client'] as const;

/** pino's `err` serializer without the properties in DROPPED, also in errors it nests. */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = pino.stdSerializers.err(err) as Record<string, unknown>;
  strip(out, 0);
  return out;
}

function strip(o: Record<string, unknown>, depth: number): void {
  for (const key of DROPPED) delete o[key];
  if (depth >= 5) return;
  // Error-valued properties come out serialized the same way (a `cause` is
  // folded into the message and stack instead).
  for (const v of Object.values(o)) {
    if (typeof v === 'object' && v !== null && 'message' in v && 'stack' in v) strip(v as Record<string, unknown>, depth + 1);
  }
}

/** The serializers every bmaas process logs with. */
export const LOG_SERIALIZERS = { err: serializeError };
