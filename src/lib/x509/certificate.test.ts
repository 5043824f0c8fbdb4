import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { createCertificate, toPem, UnsupportedKeyError } from './index.ts';

const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' });

describe('createCertificate', () => {
  it('makes a self-signed Ed25519 certificate that node parses and verifies', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const der = createCertificate({ subject: { commonName: 'agent 1' }, publicKey, signingKey: privateKey, clientAuth: true });
    const cert = new X509Certificate(der);
    assert.equal(cert.subject, 'CN=agent 1');
    assert.equal(cert.issuer, 'CN=agent 1');
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(publicKey));
    assert.equal(cert.publicKey.asymmetricKeyType, 'ed25519');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  });

  it('makes a P-256 CA and a server certificate it signs, with DNS and IP names', () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const srv = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const caDer = createCertificate({ subject: { commonName: 'dev CA', organization: 'bmaas' }, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
    const srvDer = createCertificate({
      subject: { commonName: 'localhost' },
      publicKey: srv.publicKey,
      signingKey: ca.privateKey,
      issuer: { commonName: 'dev CA', organization: 'bmaas' },
      issuerPublicKey: ca.publicKey,
      serverAuth: true,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    const caCert = new X509Certificate(caDer);
    const srvCert = new X509Certificate(srvDer);
    assert.equal(caCert.ca, true);
    assert.ok(srvCert.checkIssued(caCert));
    assert.ok(srvCert.verify(ca.publicKey));
    assert.equal(srvCert.checkHost('localhost'), 'localhost');
    assert.equal(srvCert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(srvCert.checkIP('::1'), '::1');
  });

  it('signs with RSA keys and refuses key types it cannot sign with', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = createCertificate({ subject: { commonName: 'rsa' }, publicKey: rsa.publicKey, signingKey: rsa.privateKey });
    assert.ok(new X509Certificate(der).verify(rsa.publicKey));
    const x448 = generateKeyPairSync('x448');
    assert.throws(() => createCertificate({ subject: { commonName: 'x' }, publicKey: x448.publicKey, signingKey: x448.privateKey }), UnsupportedKeyError);
  });

  it('completes a TLS handshake: server certificate verified against the CA, Ed25519 client certificate seen by the server', async () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const srv = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const client = generateKeyPairSync('ed25519');
    const caDer = createCertificate({ subject: { commonName: 'CA' }, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
    const srvDer = createCertificate({ subject: { commonName: 'srv' }, publicKey: srv.publicKey, signingKey: ca.privateKey, issuer: { commonName: 'CA' }, issuerPublicKey: ca.publicKey, serverAuth: true, ipAddresses: ['127.0.0.1'] });
    const clientDer = createCertificate({ subject: { commonName: 'client' }, publicKey: client.publicKey, signingKey: client.privateKey, clientAuth: true });
    const server = tls.createServer({ cert: toPem(srvDer, 'CERTIFICATE'), key: pem(srv.privateKey), requestCert: true, rejectUnauthorized: false });
    const seen = new Promise<Buffer>((resolve) => server.on('secureConnection', (s) => { resolve(s.getPeerCertificate().raw); s.end(); }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as { port: number };
      const socket = tls.connect({ host: '127.0.0.1', port, ca: toPem(caDer, 'CERTIFICATE'), cert: toPem(clientDer, 'CERTIFICATE'), key: pem(client.privateKey) });
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      // TLS 1.3: the server finishes after the client, so wait for it before hanging up.
      assert.deepEqual(await seen, clientDer);
      socket.destroy();
    } finally {
      server.close();
    }
  });
});
