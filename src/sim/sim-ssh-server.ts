// The SSH side of one simulated machine: an in-process ssh2 server on
// 127.0.0.1 with its own persistent host key, public key login, SFTP uploads
// into memory and exec through a handler. "Unreachable" machines accept TCP
// and then say nothing, like a host behind a dropping firewall. While the
// machine is powered off or still booting (`up` false) every connection is
// reset at once, and a power-off drops the open ones.
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey } from 'ssh2';
import { serveUploadSftp, type UploadedFile } from './sftp-upload-server.ts';

const { Server, utils } = ssh2;

export interface ExecReply {
  readonly stdout?: Uint8Array;
  readonly stderr?: string;
  readonly exitCode: number;
}

export interface SimSshServerOptions {
  /** Private host key in OpenSSH format (see generateEd25519KeyPair). */
  readonly hostKey: string;
  /** The one OpenSSH public key line allowed to log in. */
  readonly authorizedKey: string;
  /** Default root. */
  readonly username?: string;
  /** Accept TCP but never speak SSH. */
  readonly blackhole?: boolean;
  /** Whether the machine runs (and sshd answers) now; default always. */
  readonly up?: () => boolean;
  /** Runs a command once the client closed stdin. */
  readonly exec: (command: string, stdin: Buffer, files: ReadonlyMap<string, UploadedFile>) => Promise<ExecReply>;
}

export interface SimSshServer {
  /** "127.0.0.1:port". */
  readonly address: string;
  /** Cuts every open connection (the machine lost power). */
  dropConnections(): void;
  close(): Promise<void>;
}

function parseOne(text: string, what: string): ParsedKey {
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) throw new Error(`cannot parse ${what}: ${key instanceof Error ? key.message : 'no key'}`);
  return key;
}

export async function startSimSshServer(opts: SimSshServerOptions): Promise<SimSshServer> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const up = opts.up ?? (() => true);
  let server: NetServer;
  if (opts.blackhole) {
    server = createServer((socket) => (up() ? track(socket) : socket.resetAndDestroy()));
  } else {
    parseOne(opts.hostKey, 'the host key');
    const authorized = parseOne(opts.authorizedKey, 'the authorized key');
    const username = opts.username ?? 'root';
    const files = new Map<string, UploadedFile>();
    const ssh = new Server({ hostKeys: [opts.hostKey] }, (client) => serveClient(client, { authorized, username, files, exec: opts.exec }));
    // TCP_NODELAY, as OpenSSH's sshd sets it: SSH and SFTP are many small
    // request/reply messages, and with Nagle's algorithm each reply would wait
    // for the delayed ACK of the one before (40 ms on Linux): that made an
    // upload and takeover 0.7 s instead of 40 ms.
    server = createServer({ noDelay: true }, (socket) => {
      if (!up()) {
        socket.resetAndDestroy();
        return;
      }
      track(socket);
      ssh.injectSocket(socket);
    });
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    dropConnections: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function serveClient(
  client: Connection,
  o: { authorized: ParsedKey; username: string; files: Map<string, UploadedFile>; exec: SimSshServerOptions['exec'] },
): void {
  client.on('error', () => {});
  client.on('authentication', (ctx) => {
    const keyMatches = ctx.method === 'publickey' && ctx.username === o.username && ctx.key.algo === o.authorized.type && ctx.key.data.equals(o.authorized.getPublicSSH());
    // Without a signature the client only asks whether the key would be accepted.
    if (keyMatches && (ctx.signature === undefined || ctx.blob === undefined || o.authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo))) {
      ctx.accept();
      return;
    }
    ctx.reject(['publickey']);
  });
  client.on('session', (acceptSession) => {
    const session = acceptSession();
    session.on('sftp', (acceptSftp) => serveUploadSftp(acceptSftp(), o.files));
    session.on('signal', (accept) => accept?.());
    session.on('exec', (acceptExec, _reject, info) => {
      const channel = acceptExec();
      const chunks: Buffer[] = [];
      channel.on('data', (chunk: Buffer) => chunks.push(chunk));
      channel.on('end', () => {
        o.exec(info.command, Buffer.concat(chunks), o.files).then(
          (reply) => {
            if (reply.stdout?.length) channel.write(Buffer.from(reply.stdout));
            if (reply.stderr) channel.stderr.write(reply.stderr);
            channel.exit(reply.exitCode);
            channel.end();
          },
          (err: unknown) => {
            channel.stderr.write(`simulated machine: ${String(err)}\n`);
            channel.exit(1);
            channel.end();
          },
        );
      });
    });
  });
}
