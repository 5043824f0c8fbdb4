// The HTTPS agent a Redfish driver talks through, built from its TLS option:
// system roots (`verify`), a private CA, a pinned certificate fingerprint, or no
// verification at all (`insecure`, warned about once per endpoint).
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { BmcConnectionError } from './errors.ts';
import type { BmcTls } from './types.ts';

const warnedInsecure = new Set<string>();

/** A fingerprint as `SHA256:` + hex (colons optional) or base64, normalised to lower-case hex. */
export function normaliseFingerprint(fingerprint: string): string {
  const body = fingerprint.replace(/^sha256:/i, '').trim();
  const hex = body.replace(/:/g, '');
  if (/^[0-9a-f]{64}$/i.test(hex)) return hex.toLowerCase();
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length === 32) return bytes.toString('hex');
  throw new BmcConnectionError('TLS fingerprint must be SHA256:<64 hex digits> or SHA256:<base64 of 32 bytes>');
}

/** The SHA-256 fingerprint of a DER certificate, as `SHA256:` + colon-separated hex. */
export function certificateFingerprint(der: Buffer): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
  return `SHA256:${hex.match(/../g)!.join(':')}`;
}

/** An agent for one BMC: at most one socket, kept alive between the driver's requests. */
export function bmcAgent(tls: BmcTls, endpoint: string, log: Logger): Agent {
  const base = { keepAlive: true, maxSockets: 1 };
  if (tls === 'verify') return new Agent(base);
  if (tls === 'insecure') {
    if (!warnedInsecure.has(endpoint)) {
      warnedInsecure.add(endpoint);
      log.warn({ endpoint }, 'BMC TLS certificate is not verified (TLS "insecure")');
    }
    return new Agent({ ...base, rejectUnauthorized: false });
  }
  if ('caCertificate' in tls) {
    new X509Certificate(tls.caCertificate); // a bad PEM fails here, once, not on every request
    return new Agent({ ...base, ca: tls.caCertificate });
  }
  return new PinnedAgent(base, normaliseFingerprint(tls.fingerprint), endpoint);
}

/**
 * Accepts exactly the certificate whose SHA-256 is pinned, whoever issued it.
 * The check runs on the finished handshake, before the socket is handed to the
 * request, so no header (and no credential) ever reaches another peer.
 */
class PinnedAgent extends Agent {
  readonly #pin: string;
  readonly #endpoint: string;

  constructor(options: ConstructorParameters<typeof Agent>[0], pin: string, endpoint: string) {
    super(options);
    this.#pin = pin;
    this.#endpoint = endpoint;
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, socket: Duplex) => void): Duplex | null | undefined {
    const socket: TLSSocket = connect({ ...(options as ConnectionOptions), rejectUnauthorized: false });
    const fail = (err: Error) => {
      socket.destroy();
      callback?.(err, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      const cert = socket.getPeerCertificate();
      const seen = cert?.raw ? createHash('sha256').update(cert.raw).digest('hex') : '';
      if (seen !== this.#pin) {
        fail(new BmcConnectionError(`BMC ${this.#endpoint} presented a certificate that does not match the pinned fingerprint (it has ${seen ? certificateFingerprint(cert.raw) : 'none'})`));
        return;
      }
      callback?.(null, socket);
    });
    return undefined;
  }
}
