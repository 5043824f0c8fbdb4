// Who is calling: the agent's raw Ed25519 public key, taken from the one
// self-signed client certificate it presented on the TLS connection.
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { ed25519RawPublicKey } from '../lib/index.ts';
import { AgentAuthenticationError } from './errors.ts';

/** What the transport knows about the peer, captured per request. */
export interface PeerIdentity {
  /** The certificates the client sent, leaf first (empty when it sent none). */
  readonly certificates: readonly Buffer[];
  readonly remoteAddress: string | undefined;
}

/** The subset of a TLS socket we read (http2's compat socket is a proxy, so no instanceof). */
export interface PeerSocket {
  readonly remoteAddress?: string | undefined;
  getPeerCertificate?(detailed: true): DetailedPeerCertificate | PeerCertificate | Record<string, never> | null;
}

function hasRaw(c: unknown): c is DetailedPeerCertificate {
  return typeof c === 'object' && c !== null && Buffer.isBuffer((c as { raw?: unknown }).raw);
}

/**
 * Reads the presented chain. Node links each certificate to its issuer; a
 * self-signed certificate points back at itself, so the walk stops at the
 * first certificate already seen.
 */
export function peerIdentityOf(socket: PeerSocket | undefined | null): PeerIdentity {
  const certificates: Buffer[] = [];
  let cert: unknown = socket?.getPeerCertificate?.(true);
  const seen = new Set<unknown>();
  while (hasRaw(cert) && !seen.has(cert)) {
    const raw = cert.raw;
    if (certificates.some((c) => c.equals(raw))) break;
    seen.add(cert);
    certificates.push(raw);
    cert = cert.issuerCertificate;
  }
  return { certificates, remoteAddress: socket?.remoteAddress };
}

// The server keeps one PeerIdentity per connection (whose certificate cannot
// change: renegotiation is off), so the certificate is parsed once per
// connection rather than once per call.
const parsedKeys = new WeakMap<PeerIdentity, Uint8Array | AgentAuthenticationError>();

/**
 * The 32-byte Ed25519 key of the single client certificate.
 * @throws AgentAuthenticationError when there is no certificate, more than one, or a non-Ed25519 key.
 */
export function agentPublicKey(peer: PeerIdentity): Uint8Array {
  let parsed = parsedKeys.get(peer);
  if (parsed === undefined) {
    try {
      parsed = parseAgentPublicKey(peer);
    } catch (err) {
      if (!(err instanceof AgentAuthenticationError)) throw err;
      parsed = err;
    }
    parsedKeys.set(peer, parsed);
  }
  if (parsed instanceof AgentAuthenticationError) throw parsed;
  return parsed;
}

function parseAgentPublicKey(peer: PeerIdentity): Uint8Array {
  if (peer.certificates.length === 0) throw new AgentAuthenticationError('no client certificate');
  if (peer.certificates.length !== 1) throw new AgentAuthenticationError(`expected exactly one client certificate, got ${peer.certificates.length}`);
  let key;
  try {
    key = new X509Certificate(peer.certificates[0]!).publicKey;
  } catch (err) {
    throw new AgentAuthenticationError(`unparseable client certificate: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AgentAuthenticationError(`client certificate key is ${key.asymmetricKeyType}, not ed25519`);
  return ed25519RawPublicKey(key);
}
