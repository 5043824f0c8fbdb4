// HTTP plumbing of the fake Redfish BMC: JSON bodies in and out, Redfish error
// objects, and the service root every Redfish service publishes unauthenticated.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SERVICE_ROOT = Object.freeze({
  '@odata.id': '/redfish/v1/',
  '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
  Id: 'RootService',
  RedfishVersion: '1.15.0',
  Systems: { '@odata.id': '/redfish/v1/Systems' },
  SessionService: { '@odata.id': '/redfish/v1/SessionService' },
  Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
});

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function redfishError(message: string, messageId = 'Base.1.8.GeneralError'): object {
  return { error: { code: messageId, message, '@Message.ExtendedInfo': [{ MessageId: messageId, Message: message }] } };
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'odata-version': '4.0', ...headers });
  res.end(payload);
}
