// Holding TCP ports so that something started meanwhile takes others (the demo prefers 7233/8233 when free).
import { connect, createServer, type Server } from 'node:net';

export interface HeldPorts {
  /** the ports held (a port that was not free is not held); 0 asked → the port the system gave */
  ports: number[];
  /** Frees them. Resolves at once: it waits on no peer. */
  release(): Promise<void>;
}

/**
 * Listens on each free port of `ports` on 127.0.0.1. A held port serves nothing: every connection it receives is
 * destroyed at once. (A connection left open and unread would keep `server.close()` waiting for a peer that may
 * never close it — with no active handle, so the event loop would drain while a caller still awaits the release.)
 */
export async function holdPorts(ports: number[]): Promise<HeldPorts> {
  const servers: Server[] = [];
  for (const port of ports) {
    const server = createServer((socket) => socket.destroy());
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) servers.push(server);
  }
  return {
    ports: servers.map((s) => {
      const address = s.address();
      return typeof address === 'object' && address ? address.port : 0;
    }),
    async release() {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/** A client that sends a few bytes to 127.0.0.1:`port` and goes away, as a gRPC client giving up on a silent server. */
export function strayClient(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', () => socket.destroy()));
    socket.once('error', () => resolve());
    socket.once('close', () => resolve());
  });
}
