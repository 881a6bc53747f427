import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import { type Logger, pino } from "pino";
import type { LogFormat } from "../config.js";
import { TOKEN_QUERY_PARAMS } from "./auth.js";

/** Linux's PIPE_BUF: a write to a pipe up to this size is never interleaved with another's. */
const PIPE_BUF = 4096;

const TOKEN_PARAMS: ReadonlySet<string> = new Set(Object.values(TOKEN_QUERY_PARAMS));

/**
 * Request URLs as logged: the values of token query parameters replaced, so that logs never hold a token.
 * Names are compared as the query parser reads them (`private%5Ftoken` is `private_token`, `job_token[]`
 * an array of it) and in any case, so that no spelling the server might accept slips through.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf("?");
  if (start < 0) return url;
  const pairs = url
    .slice(start + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      let name = key;
      try {
        name = decodeURIComponent(key.replaceAll("+", " "));
      } catch {
        // Not valid percent-encoding: compared as written.
      }
      const base = name.replace(/\[.*$/, "").toLowerCase();
      return TOKEN_PARAMS.has(base) ? `${key}=[REDACTED]` : pair;
    });
  return `${url.slice(0, start + 1)}${pairs.join("&")}`;
}

/** The request as its log line shows it: the URL redacted, nothing else of the request. */
const serializeRequest = (req: IncomingMessage & { id?: string; originalUrl?: string }) => ({
  id: req.id,
  method: req.method,
  url: redactUrl(req.originalUrl ?? req.url ?? ""),
  remoteAddress: req.socket?.remoteAddress,
});

/**
 * The request log: one line per answer, with the URL redacted and nothing else of the request or answer.
 * Each request gets an id, sent back as `X-Request-Id` (as GitLab does) and written in its log line, so that
 * a user's report of an answer leads to its line. `req.log` is the request's logger (its lines carry `req`).
 *
 * The lines are pino-http's (`request completed`, `request aborted`, `request errored` for a 5xx or a
 * response error; `req`, `res`, `responseTime`), written without it: pino-http cost ~30 µs of CPU a request
 * even with its lines switched off (getJob 178 against 146 µs without the middleware, pinned to one core),
 * for bookkeeping this server does not use (every logger a request had, per-request start symbols).
 */
export function requestLogger(logger: Logger): RequestHandler {
  const requestLog = logger.child(
    {},
    {
      serializers: { req: serializeRequest, res: (res: ServerResponse) => ({ statusCode: res.statusCode }) },
    },
  );
  return (req, res, next) => {
    const id = randomUUID();
    res.setHeader("X-Request-Id", id);
    req.id = id;
    // The request as it came: later middleware reads a HEAD as the GET it asks about.
    const log = requestLog.child({ req });
    req.log = log;
    const started = Date.now();
    const finished = (error?: Error) => {
      res.off("close", finished);
      res.off("finish", finished);
      res.off("error", finished);
      const responseTime = Date.now() - started;
      if (error || res.statusCode >= 500) {
        const err = error ?? new Error(`failed with status code ${res.statusCode}`);
        log.info({ res, err, responseTime }, "request errored");
        return;
      }
      const message = !req.readableAborted && res.writableEnded ? "request completed" : "request aborted";
      log.info({ res, responseTime }, message);
    };
    res.on("close", finished);
    res.on("finish", finished);
    res.on("error", finished);
    next();
  };
}

/**
 * The server's logger on stdout. JSON: one object a line, for collectors. Pretty: one line a request,
 * `[request id] request completed GET /api/v4/… 200 3ms`, for a person at a terminal; written in the
 * process (no worker thread), so that the last lines before an exit are not lost. pino-pretty is loaded
 * only then: a JSON server does not pay for its start.
 */
export async function createLogger(level: string, format: LogFormat): Promise<Logger> {
  // Written asynchronously: a line per request, each a write(2) on the request's path when synchronous (pino's
  // "asynchronous logging"). Lines written while one is under way go out together in the next, at most
  // PIPE_BUF (4 KiB) of whole lines a write: on a pipe such a write is atomic, so the lines of `--workers`
  // processes sharing stdout never interleave mid-line. pino writes what is left when the process exits.
  if (format === "json")
    return pino({ level }, pino.destination({ dest: 1, sync: false, maxWrite: PIPE_BUF }));
  const { build: pretty } = await import("pino-pretty");
  return pino(
    { level },
    pretty({
      sync: true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,req,res,responseTime",
      messageFormat:
        "{if req.id}[{req.id}] {end}{msg}{if res.statusCode} {req.method} {req.url} {res.statusCode} {responseTime}ms{end}",
    }),
  );
}
