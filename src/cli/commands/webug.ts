// bmaas webug: serve the operator's web UI over the BMDB until interrupted
// (read-only unless --allow-actions).
import { readFileSync } from 'node:fs';
import type { Command } from '../command.ts';
import type { MetricsServer } from '../../lib/metrics-http.ts';
import {
  BMDB_FLAGS,
  commandRegistry,
  LOG_FLAGS,
  METRICS_FLAGS,
  metricsAddressFromFlags,
  openBmdbFromFlags,
  RECOVERY_THRESHOLD_FLAGS,
  recoveryThresholdsFromFlags,
  serveMetricsFromFlags,
} from '../common-flags.ts';
import { durationFlagBounds, UsageError } from '../../lib/flags.ts';
import { STUCK_LIMIT_FLAG, stuckLimitsFromFlags } from '../stuck-limit-flags.ts';
import { DEFAULT_WEBUG_LISTEN_ADDRESS, loadApiTokensFile, startWebug, WEBUG_BOUNDS, WEBUG_DEFAULTS, WEBUG_TOKEN_ENV, WebugConfigError } from '../../webug/index.ts';

export const command: Command = {
  name: 'webug',
  summary: 'serve the operator web UI over the BMDB (read-only unless --allow-actions)',
  usage: '[--bmdb-url URL] [--listen-address HOST:PORT] [--webug-token TOKEN]',
  description:
    'Fleet list, machine detail with explain, sessions and audit trail, with a JSON API under /api/. ' +
    `Listens on ${DEFAULT_WEBUG_LISTEN_ADDRESS} by default; any other address needs a token (--webug-token or ${WEBUG_TOKEN_ENV}), ` +
    'given by clients as a bearer token, as the basic-auth password, or once as ?token=.',
  flags: [
    ...BMDB_FLAGS,
    { name: 'listen-address', type: 'string', default: DEFAULT_WEBUG_LISTEN_ADDRESS, placeholder: 'HOST:PORT', description: 'where to serve the UI' },
    { name: 'webug-token', type: 'string', env: WEBUG_TOKEN_ENV, secret: true, placeholder: 'TOKEN', description: 'access token (at least 16 characters); required off loopback' },
    { name: 'refresh', type: 'duration', default: WEBUG_DEFAULTS.liveMs, ...durationFlagBounds(WEBUG_BOUNDS.liveMs), description: 'how often live pages refresh' },
    // The "why (not) a recovery candidate" explanation uses these; give the shepherd's values.
    ...RECOVERY_THRESHOLD_FLAGS,
    STUCK_LIMIT_FLAG,
    ...METRICS_FLAGS,
    { name: 'allow-actions', type: 'boolean', description: 'serve the action API (POST /api/machines/<id>/actions/<action>); needs --tokens-file, and TLS off loopback. Off: read-only' },
    { name: 'tokens-file', type: 'string', placeholder: 'PATH', description: 'action API tokens, one "<viewer|operator> <name> <sha256 hex of the token>" a line' },
    { name: 'tls-cert', type: 'string', placeholder: 'PATH', description: 'serve HTTPS with this PEM certificate chain (with --tls-key)' },
    { name: 'tls-key', type: 'string', placeholder: 'PATH', description: 'the PEM private key of --tls-cert' },
    ...LOG_FLAGS,
  ],
  async run(flags, ctx) {
    const recoveryThresholds = recoveryThresholdsFromFlags(flags);
    const stuckLimits = stuckLimitsFromFlags(flags);
    const readPem = (name: string): Buffer => {
      const file = flags.string(name)!;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new UsageError(`cannot read --${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    if ((flags.string('tls-cert') === undefined) !== (flags.string('tls-key') === undefined)) throw new UsageError('give --tls-cert and --tls-key together');
    const tls = flags.string('tls-cert') !== undefined ? { cert: readPem('tls-cert'), key: readPem('tls-key') } : undefined;
    const tokensFile = flags.string('tokens-file');
    if (tokensFile !== undefined && !flags.boolean('allow-actions')) throw new UsageError('--tokens-file is for the action API: give --allow-actions too');
    let apiTokens;
    try {
      apiTokens = tokensFile !== undefined ? loadApiTokensFile(tokensFile) : undefined;
    } catch (err) {
      if (err instanceof WebugConfigError) throw new UsageError(err.message);
      throw err;
    }
    // Read-only: it never migrates; it reads whatever schema version it finds.
    metricsAddressFromFlags(flags);
    const registry = commandRegistry();
    const bmdb = await openBmdbFromFlags(flags, { logger: ctx.logger, migrate: false, metricsRegistry: registry, signal: ctx.signal });
    let metrics: MetricsServer | undefined;
    try {
      let webug;
      try {
        webug = await startWebug({
          bmdb,
          listenAddress: flags.string('listen-address'),
          token: flags.string('webug-token'),
          liveMs: flags.number('refresh'),
          recoveryThresholds,
          stuckLimits,
          allowActions: flags.boolean('allow-actions'),
          apiTokens,
          tls,
          logger: ctx.logger,
          signal: ctx.signal,
        });
      } catch (err) {
        if (err instanceof WebugConfigError) throw new UsageError(err.message);
        throw err;
      }
      ctx.stdout.write(`webug: ${webug.url}\n`);
      metrics = await serveMetricsFromFlags(flags, registry, ctx);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await webug.close();
    } finally {
      await metrics?.close();
      await bmdb.close();
    }
  },
};
