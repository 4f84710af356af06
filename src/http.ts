// The small HTTP servers we run ourselves (the provider simulator, the codec server, the worker's metrics endpoint):
// listening, closing, bounded request bodies and an error that carries its status.
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer with this status and `message` as its error text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Listening {
  /** `http://<host>:<port>`, without a trailing slash (127.0.0.1 for a server on every interface) */
  url: string;
  port: number;
  /** Stops accepting, drops open connections; resolves once closed. Idempotent. */
  close(): Promise<void>;
}

/** Listens on `host:port` (0: any free port); `beforeClose` runs once, when `close()` is first called. */
export async function listen(server: Server, port: number, host: string, beforeClose?: () => void): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  const shown = everywhere ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        beforeClose?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The whole request body; a 413 `HttpError` as soon as it grows past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new HttpError(413, `request body above ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
