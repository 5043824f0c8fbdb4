// An in-process SSH server for tests of the shepherd's SSH layer: password or
// public key auth, SFTP writes into memory, chmod, and exec through a handler.
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey, Server as Ssh2Server, ServerChannel } from 'ssh2';
import { describeHostKey } from '../src/shepherd/ssh/index.ts';
import { serveUploadSftp, type UploadedFile } from '../src/sim/sftp-upload-server.ts';
import { generateEd25519KeyPair } from '../src/lib/ssh-keygen.ts';
import type { HostKey } from '../src/shepherd/ssh/index.ts';

// ssh2 is CommonJS; Node exposes only its default export to ES modules.
const { Server, utils } = ssh2;

export interface FakeExecReply {
  readonly stdout?: string | Buffer;
  readonly stderr?: string | Buffer;
  readonly exitCode?: number;
}

/** Runs after the client sent EOF on stdin; may never resolve, to model a hung command. */
export type FakeExecHandler = (command: string, stdin: Buffer) => FakeExecReply | Promise<FakeExecReply>;
/** Full control over the channel: write, exit and end it yourself. */
export type FakeExecStreamHandler = (command: string, channel: ServerChannel) => void;

export interface FakeSshServerOptions {
  /** Login name accepted; default "root". */
  readonly username?: string;
  /** Password accepted, if any. */
  readonly password?: string;
  /** OpenSSH public key line ("ssh-ed25519 AAAA...") accepted, if any. */
  readonly authorizedKey?: string;
  readonly exec?: FakeExecHandler;
  readonly execStream?: FakeExecStreamHandler;
}

export type FakeFile = UploadedFile;

export interface FakeSshServer extends AsyncDisposable {
  /** "127.0.0.1:<port>". */
  readonly address: string;
  readonly port: number;
  /** The key presented to clients now. */
  readonly hostKey: HostKey;
  /** Files written over SFTP, by path. */
  readonly files: Map<string, FakeFile>;
  /** Commands run so far, with the stdin each received (empty for execStream). */
  readonly execs: Array<{ command: string; stdin: Buffer }>;
  /** Presents a freshly generated host key to connections made from now on. */
  replaceHostKey(): void;
  close(): Promise<void>;
}

export async function startFakeSshServer(options: FakeSshServerOptions = {}): Promise<FakeSshServer> {
  const username = options.username ?? 'root';
  const authorized = options.authorizedKey === undefined ? undefined : parsePublicKey(options.authorizedKey);
  const files = new Map<string, FakeFile>();
  const execs: Array<{ command: string; stdin: Buffer }> = [];
  const sockets = new Set<Socket>();

  let hostKey!: HostKey;
  let ssh!: Ssh2Server;
  const useNewHostKey = (): void => {
    const pair = generateEd25519KeyPair();
    const parsed = utils.parseKey(pair.private);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('could not parse generated host key');
    hostKey = describeHostKey(parsed.getPublicSSH());
    // Each ssh2 Server holds its keys for good, so a new key means a new Server;
    // sockets are handed to whichever is current.
    ssh = new Server({ hostKeys: [pair.private] }, (client) => serveClient(client));
  };

  const serveClient = (client: Connection): void => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (ctx.username === username) {
        if (ctx.method === 'password' && options.password !== undefined && ctx.password === options.password) {
          ctx.accept();
          return;
        }
        if (
          ctx.method === 'publickey' &&
          authorized !== undefined &&
          ctx.key.algo === authorized.type &&
          ctx.key.data.equals(authorized.getPublicSSH())
        ) {
          // Without a signature the client only asks whether the key would do.
          if (ctx.signature === undefined || ctx.blob === undefined) {
            ctx.accept();
            return;
          }
          if (authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
            ctx.accept();
            return;
          }
        }
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      session.on('sftp', (acceptSftp) => serveUploadSftp(acceptSftp(), files));
      session.on('signal', (accept) => accept?.());
      session.on('exec', (acceptExec, _reject, info) => {
        const channel = acceptExec();
        if (options.execStream) {
          execs.push({ command: info.command, stdin: Buffer.alloc(0) });
          options.execStream(info.command, channel);
          return;
        }
        const chunks: Buffer[] = [];
        channel.on('data', (chunk: Buffer) => chunks.push(chunk));
        channel.on('end', () => {
          const stdin = Buffer.concat(chunks);
          execs.push({ command: info.command, stdin });
          const handler: FakeExecHandler = options.exec ?? (() => ({ stderr: 'no exec handler\n', exitCode: 127 }));
          Promise.resolve()
            .then(() => handler(info.command, stdin))
            .then(
              (reply) => {
                if (reply.stdout !== undefined) channel.write(reply.stdout);
                if (reply.stderr !== undefined) channel.stderr.write(reply.stderr);
                channel.exit(reply.exitCode ?? 0);
                channel.end();
              },
              (err: unknown) => {
                channel.stderr.write(`fake exec handler failed: ${String(err)}\n`);
                channel.exit(1);
                channel.end();
              },
            );
        });
      });
    });
  };

  useNewHostKey();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    ssh.injectSocket(socket);
  });
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const port = (tcp.address() as AddressInfo).port;

  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    address: `127.0.0.1:${port}`,
    port,
    get hostKey() {
      return hostKey;
    },
    files,
    execs,
    replaceHostKey: useNewHostKey,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function parsePublicKey(line: string): ParsedKey {
  const parsed = utils.parseKey(line);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) throw new Error('no public key in authorizedKey');
  return key;
}
