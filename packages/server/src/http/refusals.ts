import type { RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import { HttpError, invalidParam, tooLarge } from "../errors.js";
import { integerParametersOf, integerTextProblem } from "./integers.js";

export interface RateLimitOptions {
  /** Requests allowed per client address and window. */
  limit: number;
  windowMs: number;
}

/** Beyond the rate, 429 with `Retry-After` in GitLab's error shape. */
export function limitRate(options: RateLimitOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (_req, _res, next) => next(new HttpError(429, { message: "429 Too Many Requests" })),
  });
}

/**
 * A raw `#` or `\` in the request target: Express's URL parser cuts the path at the `#` and turns `\` into
 * `/`, while the validator matches the target as sent, so the two would disagree on the operation (the
 * validator then checks the router's 404 against that operation's schema). Neither belongs in a request
 * target (RFC 9112); they are refused before either looks at it.
 */
export const rejectAmbiguousTarget: RequestHandler = (req, _res, next) => {
  const path = req.url.split("?", 1)[0] ?? "";
  if (path.includes("#") || path.includes("\\")) {
    throw new HttpError(400, { error: "400 Bad Request - invalid request target" });
  }
  next();
};

const LINGER_FACTOR = 4;

/**
 * A declared body over the limit is refused at once, before body-parser reads it. A client still
 * uploading it must get to read that answer, not meet a connection reset: up to `LINGER_FACTOR` times the
 * limit the rest is read and dropped (within the server's request timeout), as nginx's lingering close
 * does, and the connection stays usable. A larger body is not worth reading: the connection is closed
 * after the answer.
 */
export function refuseLargeBodies(limit: number): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.get("content-length") ?? 0);
    if (declared <= limit) return next();
    if (declared > LINGER_FACTOR * limit) throw tooLarge({ Connection: "close" });
    req.resume();
    throw tooLarge();
  };
}

/**
 * Integer parameters the validator accepted must also be written as integers (`integerTextProblem`). Runs
 * after the validator: the values it turned into numbers are exactly the operation's own integer
 * parameters (a `per_page` sent to `/job`, which has none, stays a string and is ignored, as GitLab does).
 */
export const rejectNonIntegerText: RequestHandler = (req, _res, next) => {
  const pathParams: Record<string, unknown> | undefined = req.openapi?.pathParams;
  const query = req.query as Record<string, unknown>;
  for (const name of integerParametersOf(req)) {
    const value = pathParams?.[name] ?? query[name];
    if (typeof value !== "number") continue;
    const problem = integerTextProblem(req, name);
    if (problem) throw invalidParam(name, problem);
    // Whatever the text, a value Ajv read as Infinity must not reach the database.
    if (!Number.isFinite(value)) throw invalidParam(name);
  }
  next();
};
