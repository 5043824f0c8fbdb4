// A throwaway PostgreSQL cluster for tests: initdb into a temp dir, start it on a
// loopback port with durability turned off (tests never need crash safety), and
// remove everything on stop.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A running cluster. `stop()` is idempotent; `stopSync()` exists for process 'exit' handlers. */
export interface PgCluster {
  /** Superuser URL (user `postgres`, trust auth) for the `postgres` database. */
  readonly adminUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** Runs `pg_ctl -D <dataDir> ...args` (e.g. `['-m', 'fast', '-w', 'stop']`, `['-w', 'promote']`); the files stay. */
  ctl(args: string[]): Promise<void>;
  stop(): Promise<void>;
  stopSync(): void;
}

/** Thrown when the binaries are missing or initdb / pg_ctl fail; the message carries the log tail. */
export class PgClusterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PgClusterError';
  }
}

/** Environment override for the directory holding initdb, pg_ctl and postgres. */
export const PG_BINDIR_ENV = 'BMAAS_PG_BINDIR';

const REQUIRED_BINARIES = ['initdb', 'pg_ctl', 'postgres'];
const START_ATTEMPTS = 5;

const SETTINGS: Record<string, string> = {
  listen_addresses: "'127.0.0.1'",
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '300',
  shared_buffers: '128MB',
};

function hasBinaries(dir: string): boolean {
  return REQUIRED_BINARIES.every((bin) => existsSync(join(dir, bin)));
}

/** Where findPgBinDir looks, for error messages. */
export function pgSearchDescription(): string {
  const override = process.env[PG_BINDIR_ENV];
  if (override) return `${PG_BINDIR_ENV}=${override}`;
  return '/usr/lib/postgresql/*/bin, `pg_config --bindir`, PATH';
}

/**
 * The directory with initdb/pg_ctl/postgres: $BMAAS_PG_BINDIR if set (and nothing
 * else, so a wrong override is not silently papered over), else the highest version
 * under /usr/lib/postgresql, else `pg_config --bindir`, else PATH. Undefined if none.
 */
export function findPgBinDir(): string | undefined {
  const override = process.env[PG_BINDIR_ENV];
  if (override) return hasBinaries(override) ? override : undefined;

  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // no Debian-style layout on this machine
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join('/usr/lib/postgresql', version, 'bin');
    if (hasBinaries(dir)) return dir;
  }

  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dir && hasBinaries(dir)) return dir;
  } catch {
    // pg_config not installed
  }

  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && hasBinaries(dir)) return dir;
  }
  return undefined;
}

// initdb refuses to run as root, so as root every PG binary runs as `postgres`.
function commandLine(binDir: string, bin: string, args: string[]): [string, string[]] {
  const path = join(binDir, bin);
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', path, ...args]];
  return [path, args];
}

function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

function outputOf(err: unknown): string {
  const e = err as { stdout?: unknown; stderr?: unknown };
  return [e.stdout, e.stderr]
    .filter((s): s is string => typeof s === 'string' && s.trim() !== '')
    .join('\n')
    .trim();
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Launch {
  readonly signal: AbortSignal | undefined;
  readonly parentDir: string | undefined;
  readonly settings: Record<string, string>;
  /** Fills the (not yet existing) data directory: initdb, or a base backup. */
  populate(run: Runner, dataDir: string): Promise<void>;
}

type Runner = (bin: string, args: string[], what: string) => Promise<void>;

/**
 * Starts a fresh cluster in a new directory under `parentDir` (default: the
 * temp dir; as root /tmp, which the postgres user can reach, and so must
 * `parentDir`). `settings` go into postgresql.conf after the harness's own
 * (say `synchronous_commit: 'on'`). Aborting `signal` kills the running
 * initdb/pg_ctl and removes whatever was created; the promise then rejects
 * with the abort reason.
 */
export async function startPgCluster(
  opts: { signal?: AbortSignal; parentDir?: string; settings?: Record<string, string> } = {},
): Promise<PgCluster> {
  return launch({
    signal: opts.signal,
    parentDir: opts.parentDir,
    settings: { ...SETTINGS, ...opts.settings },
    populate: (run, dataDir) =>
      run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], 'initdb'),
  });
}

/**
 * Starts a streaming standby of `primary` (which must be running): a base
 * backup with `pg_basebackup -R` (so standby.signal and primary_conninfo are
 * written), connecting as `application_name`, so the primary can name it in
 * synchronous_standby_names. `ctl(['promote'])` makes it a primary.
 */
export async function startPgStandby(
  primary: PgCluster,
  opts: { signal?: AbortSignal; parentDir?: string; applicationName?: string } = {},
): Promise<PgCluster> {
  const name = opts.applicationName ?? 'standby1';
  return launch({
    signal: opts.signal,
    parentDir: opts.parentDir,
    settings: { ...SETTINGS, hot_standby: 'on' },
    populate: async (run, dataDir) => {
      await run('pg_basebackup', ['-D', dataDir, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-R', '-X', 'stream', '--no-sync'], 'pg_basebackup');
      if (!existsSync(join(dataDir, 'standby.signal'))) throw new PgClusterError(`pg_basebackup -R wrote no standby.signal in ${dataDir}`);
      // -R wrote primary_conninfo into postgresql.auto.conf, which wins over
      // postgresql.conf; a later line there wins over it and names us.
      await appendFile(join(dataDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${name}'\n`);
    },
  });
}

async function launch(opts: Launch): Promise<PgCluster> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const binDir = findPgBinDir();
  if (binDir === undefined) {
    throw new PgClusterError(`PostgreSQL binaries not found (looked in ${pgSearchDescription()})`);
  }
  const asRoot = process.getuid?.() === 0;
  // As root the postgres user must reach the dir, and TMPDIR may sit under /root.
  const parentDir = opts.parentDir ?? (asRoot ? '/tmp' : tmpdir());
  await mkdir(parentDir, { recursive: true });
  const baseDir = await mkdtemp(join(parentDir, 'bmaas-pg-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'postgres.log');

  const run: Runner = async (bin, args, what) => {
    const [cmd, argv] = commandLine(binDir, bin, args);
    try {
      await execFileAsync(cmd, argv, { encoding: 'utf8', signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const output = outputOf(err);
      throw new PgClusterError(
        `${what} failed (${cmd} ${argv.join(' ')})` +
          (output ? `:\n${output}` : '') +
          `\n--- ${logFile} (tail) ---\n${logTail(logFile)}`,
        { cause: err },
      );
    }
  };

  const stopSync = (): void => {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      const [cmd, argv] = commandLine(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      try {
        execFileSync(cmd, argv, { stdio: 'ignore' });
      } catch {
        // best effort: the directory goes anyway, and postgres exits once its files vanish
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
  };

  try {
    if (asRoot) {
      try {
        await execFileAsync('chown', ['postgres:', baseDir], { signal });
      } catch (err) {
        throw new PgClusterError(`chown of ${baseDir} to the postgres user failed (running as root needs one)`, {
          cause: err,
        });
      }
    }
    await opts.populate(run, dataDir);
    const settings = { ...opts.settings, unix_socket_directories: `'${baseDir}'` };
    const conf = Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n');
    await appendFile(join(dataDir, 'postgresql.conf'), `\n# bmaas test harness\n${conf}\n`);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`, 'start'], 'pg_ctl start');
      } catch (err) {
        // Another process may grab the port between our probe and postgres binding it.
        const portTaken = /could not bind|address already in use|could not create any TCP\/IP sockets/i.test(
          logTail(logFile),
        );
        if (err instanceof PgClusterError && portTaken && attempt < START_ATTEMPTS) continue;
        throw err;
      }
      let stopped: Promise<void> | undefined;
      return {
        adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
        port,
        dataDir,
        ctl: (args) => run('pg_ctl', ['-D', dataDir, ...args], `pg_ctl ${args.join(' ')}`),
        stop: () => (stopped ??= stopAsync(binDir, dataDir, baseDir, logFile)),
        stopSync,
      };
    }
  } catch (err) {
    stopSync();
    throw err;
  }
}

async function stopAsync(binDir: string, dataDir: string, baseDir: string, logFile: string): Promise<void> {
  let failure: unknown;
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    const [cmd, argv] = commandLine(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    try {
      await execFileAsync(cmd, argv, { encoding: 'utf8' });
    } catch (err) {
      // Already gone (say a terminal Ctrl-C reached postgres first) is not a failure.
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        failure = new PgClusterError(
          `pg_ctl stop failed for ${dataDir}:\n${outputOf(err)}\n--- log tail ---\n${logTail(logFile)}`,
          { cause: err },
        );
      }
    }
  }
  await rm(baseDir, { recursive: true, force: true });
  if (failure) throw failure;
}
