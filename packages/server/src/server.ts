import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Express } from "express";

export interface ListenOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  server: Server;
  /** `http://host:port`, without the `/api/v4` base. */
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Listens with timeouts that keep one slow client from holding the server. */
export async function listen(app: Express, options: ListenOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const server = app.listen(options.port ?? 3000, host);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve, reject) => {
      const force = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
      force.unref();
      server.close((error) => {
        clearTimeout(force);
        if (error) reject(error);
        else resolve();
      });
      // Idle keep-alive connections would otherwise hold `close` open until they time out.
      server.closeIdleConnections();
    });
    return closing;
  };
  return { server, url, close };
}
