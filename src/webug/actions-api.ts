// The action API (`--allow-actions`): POST /api/machines/<id>/actions/<action>
// with a JSON body `{ "reason"?, "arguments"?, "dryRun"? }`, authorised by a
// bearer token of the tokens file with the operator role. Every action runs
// through src/actions, so it is one transaction and one audit entry; this file
// only authenticates, reads the body and maps the errors to statuses.
import type { IncomingMessage } from 'node:http';
import { ActionArgumentError, ActionRefusedError, AmbiguousMachineError, UnknownActionError, UnknownMachineError, runAction, type ActionOutcome } from '../actions/index.ts';
import type { Bmdb } from '../bmdb/index.ts';
import { bearerSecret, findApiToken, type ApiToken } from './api-tokens.ts';
import { BadRequestError, NotFoundError } from './errors.ts';
import { readJsonBody } from './request-body.ts';

export const ACTION_PATH = /^\/api\/machines\/([^/]+)\/actions\/([a-z-]+)$/;

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
    throw actionHttpError(err);
  }
}

/** The action layer's errors as the HTTP errors the edge maps to statuses; anything else unchanged. */
export function actionHttpError(err: unknown): unknown {
  // The cause stays: errorKind names the action-layer error in the JSON body.
  if (err instanceof UnknownMachineError || err instanceof UnknownActionError) return new NotFoundError(err.message, { cause: err });
  if (err instanceof ActionArgumentError) return new BadRequestError(err.message, { cause: err });
  if (err instanceof ActionRefusedError || err instanceof AmbiguousMachineError) return new ConflictError(err.message, { cause: err });
  return err;
}

/** Action-layer errors by the `kind` an error body names them with (the CLI's --api maps them back). */
const ACTION_ERROR_KINDS: ReadonlyArray<readonly [new (...args: never[]) => Error, string]> = [
  [UnknownMachineError, 'unknown-machine'],
  [AmbiguousMachineError, 'ambiguous-machine'],
  [UnknownActionError, 'unknown-action'],
  [ActionArgumentError, 'bad-argument'],
  [ActionRefusedError, 'refused'],
];

const STATUS_KINDS: Readonly<Record<number, string>> = { 400: 'bad-request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 503: 'no-schema' };

/**
 * The `kind` of an error response: the action-layer error behind it when it
 * is one of the known classes, else the status's kind. Never taken from an
 * error's own name or message, so nothing internal shows through.
 */
export function errorKind(err: unknown, status: number): string {
  const cause = err instanceof Error ? err.cause : undefined;
  for (const [cls, kind] of ACTION_ERROR_KINDS) if (err instanceof cls || cause instanceof cls) return kind;
  return STATUS_KINDS[status] ?? 'internal';
}
