import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import 'reflect-metadata'; // before the library, as in certificate.ts
import * as x509 from '@peculiar/x509';
import { createCertificate, ed25519RawPublicKey, InvalidSubjectNameError, toPem, UnsupportedKeyError } from './index.ts';

const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' });

describe('createCertificate', () => {
  it('makes a self-signed Ed25519 certificate that node parses and verifies', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const der = await createCertificate({ subject: { commonName: 'agent 1' }, publicKey, signingKey: privateKey, clientAuth: true });
    const cert = new X509Certificate(der);
    assert.equal(cert.subject, 'CN=agent 1');
    assert.equal(cert.issuer, 'CN=agent 1');
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(publicKey));
    assert.equal(cert.publicKey.asymmetricKeyType, 'ed25519');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(toPem(der, 'CERTIFICATE'), `${x509.PemConverter.encode(der, 'CERTIFICATE')}\n`);
    assert.equal(new X509Certificate(toPem(der, 'CERTIFICATE')).fingerprint256, cert.fingerprint256);
  });

  it('makes a P-256 CA and a server certificate it signs, with DNS and IP names', async () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const srv = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const caDer = await createCertificate({ subject: { commonName: 'dev CA', organization: 'bmaas' }, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
    const srvDer = await createCertificate({
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

  it('signs with RSA keys and refuses key types it cannot sign with', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = await createCertificate({ subject: { commonName: 'rsa' }, publicKey: rsa.publicKey, signingKey: rsa.privateKey });
    assert.ok(new X509Certificate(der).verify(rsa.publicKey));
    const x448 = generateKeyPairSync('x448');
    await assert.rejects(createCertificate({ subject: { commonName: 'x' }, publicKey: x448.publicKey, signingKey: x448.privateKey }), UnsupportedKeyError);
  });

  it('refuses IP addresses and DNS names that are not ones', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const make = (names: { dnsNames?: string[]; ipAddresses?: string[] }) => createCertificate({ subject: { commonName: 'x' }, publicKey, signingKey: privateKey, ...names });
    await assert.rejects(make({ ipAddresses: ['300.1.1.1'] }), (err) => err instanceof InvalidSubjectNameError && err.message === 'not an IP address: "300.1.1.1"');
    await assert.rejects(make({ ipAddresses: ['127.0.0.1', '::1::2'] }), InvalidSubjectNameError);
    await assert.rejects(make({ ipAddresses: ['localhost'] }), InvalidSubjectNameError);
    await assert.rejects(make({ dnsNames: ['bad name'] }), InvalidSubjectNameError);
    const der = await make({ ipAddresses: ['10.0.0.1', 'fe80::1'] });
    assert.equal(new X509Certificate(der).subjectAltName, 'IP Address:10.0.0.1, IP Address:FE80:0:0:0:0:0:0:1');
  });

  it('marks CA and end-entity certificates: critical basic constraints and key usage, key identifiers, organization', async () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = generateKeyPairSync('ed25519');
    const caName = { commonName: 'dev CA', organization: 'bmaas' };
    const caDer = await createCertificate({ subject: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
    const leafDer = await createCertificate({ subject: { commonName: 'leaf' }, publicKey: leaf.publicKey, signingKey: ca.privateKey, issuer: caName, issuerPublicKey: ca.publicKey, clientAuth: true });
    const caCert = new x509.X509Certificate(caDer);
    const leafCert = new x509.X509Certificate(leafDer);
    assert.equal(new X509Certificate(caDer).subject, 'O=bmaas\nCN=dev CA');
    assert.equal(new X509Certificate(leafDer).issuer, 'O=bmaas\nCN=dev CA');
    const caBasic = caCert.getExtension(x509.BasicConstraintsExtension)!;
    const leafBasic = leafCert.getExtension(x509.BasicConstraintsExtension)!;
    assert.deepEqual([caBasic.ca, caBasic.critical, leafBasic.ca, leafBasic.critical], [true, true, false, true]);
    const caUsage = caCert.getExtension(x509.KeyUsagesExtension)!;
    const leafUsage = leafCert.getExtension(x509.KeyUsagesExtension)!;
    const F = x509.KeyUsageFlags;
    assert.deepEqual([caUsage.usages, caUsage.critical], [F.digitalSignature | F.keyCertSign | F.cRLSign, true]);
    assert.deepEqual([leafUsage.usages, leafUsage.critical], [F.digitalSignature, true]);
    const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    assert.equal(leafCert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, caKeyId);
    assert.equal(caCert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, caKeyId);
    assert.deepEqual([...leafCert.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [x509.ExtendedKeyUsage.clientAuth]);
    // The raw key is the tail of the fixed-layout Ed25519 SubjectPublicKeyInfo.
    const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
    assert.deepEqual(Buffer.from(ed25519RawPublicKey(leaf.privateKey)), spki.subarray(spki.length - 32));
    assert.throws(() => ed25519RawPublicKey(ca.publicKey), UnsupportedKeyError);
  });

  it('completes a TLS handshake: server certificate verified against the CA, Ed25519 client certificate seen by the server', async () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const srv = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const client = generateKeyPairSync('ed25519');
    const caDer = await createCertificate({ subject: { commonName: 'CA' }, publicKey: ca.publicKey, signingKey: ca.privateKey, isCa: true });
    const srvDer = await createCertificate({ subject: { commonName: 'srv' }, publicKey: srv.publicKey, signingKey: ca.privateKey, issuer: { commonName: 'CA' }, issuerPublicKey: ca.publicKey, serverAuth: true, ipAddresses: ['127.0.0.1'] });
    const clientDer = await createCertificate({ subject: { commonName: 'client' }, publicKey: client.publicKey, signingKey: client.privateKey, clientAuth: true });
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
