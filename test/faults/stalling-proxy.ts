// A TCP proxy that can stop forwarding without closing anything: the way a
// broken network path looks to both ends (a NAT entry that expired, a load
// balancer that lost the flow). Sockets stay open; bytes simply stop
// arriving, in both directions and for new connections too, until resume().
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface StallingProxy {
  /** `127.0.0.1:port` to connect to instead of the target. */
  readonly address: string;
  readonly port: number;
  /** Stops forwarding: buffered and new bytes stay where they are, no socket is closed. */
  stall(): void;
  /** Forwards again, including whatever waited. */
  resume(): void;
  close(): Promise<void>;
}

export async function startStallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (stalled) s.pause();
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    track(client);
    track(upstream);
    // 'data' handlers rather than pipe(): pipe() resumes a paused source on drain.
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    port,
    stall: () => {
      stalled = true;
      for (const s of sockets) s.pause();
    },
    resume: () => {
      stalled = false;
      for (const s of sockets) s.resume();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
