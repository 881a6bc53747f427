import { once } from "node:events";
import { createServer, IncomingMessage, type Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Express } from "express";

export interface ListenOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Time a client has to send its headers (answered 408 after). Default 10 s. */
  headersTimeoutMs?: number;
  /** Time a client has to send its whole request, body included (answered 408 after). Default 30 s. */
  requestTimeoutMs?: number;
}

export interface RunningServer {
  server: Server;
  /** `http://host:port`, without the `/api/v4` base. */
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/**
 * Requests Node's HTTP parser refuses never reach Express: bytes that are not allowed in a URL or header,
 * headers over 16 KiB, clients too slow to send their request. Node would answer them with a bare status
 * line and no body; GitLab's JSON error shape is answered instead (400 in the shape of the spec's
 * parameter errors).
 */
function answerClientError(
  error: NodeJS.ErrnoException & { rawPacket?: Buffer },
  // `_httpMessage` is the response under way on the connection: Node's own default handler checks it too.
  socket: Socket & { _httpMessage?: { headersSent: boolean } | null },
): void {
  // A response already under way on this connection cannot be replaced by another.
  if (error.code === "ECONNRESET" || !socket.writable || socket._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW" ? 431 : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const reason = REASONS[status];
  // The answer to a HEAD request has no body; a client would take the body for the next response.
  const head = error.rawPacket?.subarray(0, 5).toString("latin1") === "HEAD ";
  const json = JSON.stringify(
    status === 400 ? { error: `400 ${reason}` } : { message: `${status} ${reason}` },
  );
  const body = head ? "" : json;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Express gives every request and response its app's prototypes (`app.request`, `app.response`) by
 * `Object.setPrototypeOf` in `app.handle`. On Node 20's V8, objects whose prototype changed that way slow
 * down every later access, Node's own HTTP code included: bare Express answered 18,000 requests a second,
 * against 61,000 with the objects made with those prototypes from the start (expressjs/express#5998).
 * So the server makes them so, from subclasses whose prototypes become the app's: Express's change is then
 * to the prototype the object already has, which changes nothing. Once per app (a second `listen` of the
 * same app reuses them).
 */
const messageClasses = new WeakMap<
  Express,
  { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse }
>();

function messageClassesOf(app: Express) {
  const made = messageClasses.get(app);
  if (made) return made;
  class AppRequest extends IncomingMessage {}
  class AppResponse extends ServerResponse {}
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  // Each still reaches Express's methods and the app's own (`req.app`) through the chain.
  app.request = AppRequest.prototype as unknown as Express["request"];
  app.response = AppResponse.prototype as unknown as Express["response"];
  // Node's type asks for a class generic in its request type; Node constructs it with its own requests.
  const classes = { IncomingMessage: AppRequest, ServerResponse: AppResponse as typeof ServerResponse };
  messageClasses.set(app, classes);
  return classes;
}

/** Listens with timeouts that keep one slow client from holding the server. */
export async function listen(app: Express, options: ListenOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      ...messageClassesOf(app),
      headersTimeout,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      keepAliveTimeout: 5_000,
      // Node enforces both timeouts only when it checks its connections (every 30 s by default):
      // check often enough that a short timeout is a real one.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))),
    },
    app,
  );
  server.on("clientError", answerClientError);
  let closing: Promise<void> | undefined;
  // While closing, a connection whose request finishes is closed at once instead of idling until its
  // keep-alive timeout, which would hold `close()` (and the process's exit) for seconds.
  server.on("request", (_req, res: ServerResponse) => {
    if (closing) res.setHeader("Connection", "close");
    res.on("finish", () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  server.listen(options.port ?? 3000, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
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
