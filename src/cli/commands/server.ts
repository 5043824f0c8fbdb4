// bmaas server: the agent callback server ("bmsrv").
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { MetricsServer } from '../../lib/metrics-http.ts';
import type { Command } from '../command.ts';
import { BMDB_FLAGS, commandRegistry, LOG_FLAGS, METRICS_FLAGS, metricsAddressFromFlags, openBmdbFromFlags, serveMetricsFromFlags } from '../common-flags.ts';
import { durationFlagBounds, UsageError } from '../../lib/flags.ts';
import { AgentCallbackServer, CALLBACK_SERVER_BOUNDS, CALLBACK_SERVER_DEFAULTS, DEFAULT_DEV_CERTS_DIR, ensureDevCertificates } from '../../server/index.ts';
import { HostPortError, parseListenAddress } from '../../lib/index.ts';

export const command: Command = {
  name: 'server',
  summary: 'run the agent callback server (gRPC over TLS) that agents heartbeat to',
  usage: '--listen-address HOST:PORT (--tls-cert PATH --tls-key PATH | --dev-certs) [flags]',
  description: 'Agents authenticate with the Ed25519 key recorded when they were taken over. --dev-certs creates (once) a local CA and a certificate for 127.0.0.1/localhost; hand the CA (ca.der) to the shepherd so agents trust the server.',
  flags: [
    ...BMDB_FLAGS,
    { name: 'listen-address', type: 'string', default: CALLBACK_SERVER_DEFAULTS.listenAddress, placeholder: 'HOST:PORT', description: 'where agents connect' },
    { name: 'tls-cert', type: 'string', placeholder: 'PATH', description: 'PEM server certificate (chain)' },
    { name: 'tls-key', type: 'string', placeholder: 'PATH', description: 'PEM private key of --tls-cert' },
    { name: 'dev-certs', type: 'boolean', description: 'use (and create if missing) development certificates under --dev-certs-dir' },
    { name: 'dev-certs-dir', type: 'string', default: DEFAULT_DEV_CERTS_DIR, placeholder: 'DIR', description: 'where --dev-certs keeps its CA and server certificate' },
    {
      name: 'call-timeout',
      type: 'duration',
      default: CALLBACK_SERVER_DEFAULTS.callTimeoutMs,
      ...durationFlagBounds(CALLBACK_SERVER_BOUNDS.callTimeoutMs),
      description: 'longest time one heartbeat may take on the server',
    },
    ...METRICS_FLAGS,
    {
      name: 'shutdown-grace',
      type: 'duration',
      default: CALLBACK_SERVER_DEFAULTS.shutdownGraceMs,
      ...durationFlagBounds(CALLBACK_SERVER_BOUNDS.shutdownGraceMs),
      description: 'how long calls in flight may finish at shutdown; 0 cancels them at once',
    },
    ...LOG_FLAGS,
  ],
  async run(flags, ctx) {
    const listenAddress = flags.string('listen-address')!;
    try {
      parseListenAddress(listenAddress);
    } catch (err) {
      if (err instanceof HostPortError) throw new UsageError(err.message);
      throw err;
    }
    metricsAddressFromFlags(flags);
    const certPath = flags.string('tls-cert');
    const keyPath = flags.string('tls-key');
    const dev = flags.boolean('dev-certs');
    if (dev && (certPath || keyPath)) throw new UsageError('give either --dev-certs or --tls-cert and --tls-key, not both');
    if (!dev && (!certPath || !keyPath)) throw new UsageError('--tls-cert and --tls-key are required (or --dev-certs for a local setup)');

    let tls: { cert: string; key: string };
    if (dev) {
      const certs = await ensureDevCertificates(flags.string('dev-certs-dir')!, { signal: ctx.signal });
      tls = { cert: certs.cert, key: certs.key };
      ctx.stdout.write(`${certs.created ? 'created' : 'reusing'} development certificates in ${certs.dir}\n  CA certificate: ${certs.caCertPath} (DER: ${certs.dir}/ca.der)\n  server certificate: ${certs.certPath}\n`);
    } else {
      tls = { cert: await readFile(certPath!, 'utf8'), key: await readFile(keyPath!, 'utf8') };
    }

    const registry = commandRegistry();
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, metricsRegistry: registry, signal: ctx.signal });
    let metricsServer: MetricsServer | undefined;
    try {
      const server = await AgentCallbackServer.start({ bmdb, listenAddress, tls, logger: ctx.logger, metricsRegistry: registry, callTimeoutMs: flags.number('call-timeout')! });
      ctx.stdout.write(`agent callback server listening on ${server.address}\n`);
      metricsServer = await serveMetricsFromFlags(flags, registry, ctx);
      if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
      await server.close({ graceMs: flags.number('shutdown-grace')! });
    } finally {
      await metricsServer?.close();
      await bmdb.close();
    }
  },
};
