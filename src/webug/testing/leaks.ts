// What a response must never contain: the words of a database or runtime error.
// A hit means error text that belongs in the log reached a client.
export const LEAKS = /SQLSTATE|syntax|invalid input|(?:interval|timestamp|integer|bigint|smallint|numeric|date\/time field value) out of range|out of range for type|violates|relation "|column "|ERROR:|URI malformed|permission denied|at [\w.]+ \(/i;
