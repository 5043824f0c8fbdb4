// Request bodies of webug's POSTs, bounded: JSON for the action API, URL-encoded
// forms for the browser's login and action forms.
import type { IncomingMessage } from 'node:http';
import { BadRequestError } from './errors.ts';

export const MAX_BODY_BYTES = 64 * 1024;

async function readBody(req: IncomingMessage, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    signal.throwIfAborted();
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. */
export async function readJsonBody(req: IncomingMessage, signal: AbortSignal): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const raw = await readBody(req, signal);
  if (raw.length === 0) return {};
  // Only JSON: a browser form cannot send it cross-site without a preflight.
  if (!/^application\/json\b/i.test(type)) throw new BadRequestError('the body must be application/json');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequestError('the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** An application/x-www-form-urlencoded body. */
export async function readFormBody(req: IncomingMessage, signal: AbortSignal): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  const raw = await readBody(req, signal);
  if (raw.length > 0 && !/^application\/x-www-form-urlencoded\b/i.test(type)) throw new BadRequestError('the body must be a URL-encoded form');
  return new URLSearchParams(raw.toString('utf8'));
}
