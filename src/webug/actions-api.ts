// The action API (`--allow-actions`): POST /api/machines/<id>/actions/<action>
// with a JSON body `{ "reason"?, "arguments"?, "dryRun"? }`, authorised by a
// bearer token of the tokens file with the operator role. Every action runs
// through src/actions, so it is one transaction and one audit entry; this file
// only authenticates, reads the body and maps the errors to statuses.
import type { IncomingMessage } from 'node:http';
import { ActionArgumentError, ActionRefusedError, UnknownActionError, UnknownMachineError, runAction, type ActionOutcome } from '../actions/index.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { bearerSecret, findApiToken, type ApiToken } from './api-tokens.ts';
import { BadRequestError, NotFoundError } from './errors.ts';

export const ACTION_PATH = /^\/api\/machines\/([^/]+)\/actions\/([a-z-]+)$/;
const MAX_BODY_BYTES = 64 * 1024;

/** No token, or a token the file does not hold: 401. */
export class UnauthenticatedError extends Error {
  override name = 'UnauthenticatedError';
}

/** A valid token whose role may not do this: 403. */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
}

/** The action does not apply to the machine in its state: 409. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

async function readJsonBody(req: IncomingMessage, signal: AbortSignal): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    signal.throwIfAborted();
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  // Only JSON: a browser form cannot send it cross-site without a preflight.
  if (!/^application\/json\b/i.test(type)) throw new BadRequestError('the body must be application/json');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequestError('the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

export interface ActionApi {
  readonly bmdb: Bmdb;
  readonly tokens: readonly ApiToken[];
}

export async function handleAction(api: ActionApi, req: IncomingMessage, path: string, signal: AbortSignal): Promise<ActionOutcome> {
  const secret = bearerSecret(req.headers.authorization);
  const token = secret === undefined ? undefined : findApiToken(api.tokens, secret);
  if (!token) throw new UnauthenticatedError('actions need a bearer token from the tokens file');
  if (token.role !== 'operator') throw new ForbiddenError(`token ${token.name} has the ${token.role} role; actions need operator`);
  const [, rawId, action] = ACTION_PATH.exec(path)!;
  let machineId: string;
  try {
    machineId = decodeURIComponent(rawId!);
  } catch {
    throw new BadRequestError('the machine id is not percent-encoded correctly');
  }
  const body = await readJsonBody(req, signal);
  for (const k of Object.keys(body)) if (!['reason', 'arguments', 'dryRun'].includes(k)) throw new BadRequestError(`unknown body field ${JSON.stringify(k)}; known: reason, arguments, dryRun`);
  const { reason, arguments: args, dryRun } = body;
  if (reason !== undefined && typeof reason !== 'string') throw new BadRequestError('reason must be a string');
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) throw new BadRequestError('arguments must be an object');
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new BadRequestError('dryRun must be a boolean');
  try {
    return await runAction(
      api.bmdb,
      { action: action!, machineId, actor: `token:${token.name}`, reason, arguments: args as Record<string, unknown> | undefined, dryRun },
      { signal, processor: 'webug' },
    );
  } catch (err) {
    if (err instanceof UnknownMachineError) throw new NotFoundError(err.message);
    if (err instanceof UnknownActionError) throw new NotFoundError(err.message);
    if (err instanceof ActionArgumentError) throw new BadRequestError(err.message);
    if (err instanceof ActionRefusedError) throw new ConflictError(err.message);
    throw err;
  }
}
