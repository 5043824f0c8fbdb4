// One HTTP(S) request and its JSON answer, bounded in time and size. No retries
// and no auth here: redfish-client.ts decides those.
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';

const MAX_BODY_BYTES = 1 << 20;

export interface HttpExchange {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  readonly url: URL;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: unknown;
  readonly agent: Agent;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON, or undefined when empty or not JSON. */
  readonly json: unknown;
}

/** Thrown when no answer came: a socket error, the timeout, or the caller's abort (`aborted`). */
export class HttpTransportError extends Error {
  override name = 'HttpTransportError';
  /** Whether the request may have reached the server (false only for connection refusals and lookup failures). */
  readonly maybeSent: boolean;
  readonly aborted: boolean;
  constructor(message: string, maybeSent: boolean, aborted: boolean, options?: ErrorOptions) {
    super(message, options);
    this.maybeSent = maybeSent;
    this.aborted = aborted;
  }
}

export function exchange(ex: HttpExchange): Promise<HttpAnswer> {
  const payload = ex.body === undefined ? undefined : Buffer.from(JSON.stringify(ex.body));
  const headers: OutgoingHttpHeaders = { accept: 'application/json', ...ex.headers };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  const timeout = AbortSignal.timeout(ex.timeoutMs);
  const signal = ex.signal ? AbortSignal.any([ex.signal, timeout]) : timeout;
  const send = ex.url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(ex.url, { method: ex.method, headers, agent: ex.url.protocol === 'http:' ? undefined : ex.agent, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    function fail(err: Error) {
      const aborted = ex.signal?.aborted === true;
      const timedOut = !aborted && timeout.aborted;
      const code = (err as NodeJS.ErrnoException).code;
      const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
      const what = aborted ? 'aborted' : timedOut ? `no answer within ${ex.timeoutMs} ms` : err.message;
      reject(new HttpTransportError(`${ex.method} ${ex.url.pathname}: ${what}`, !refused, aborted, { cause: err }));
    }
    req.on('error', fail);
    req.end(payload);
  });
}
