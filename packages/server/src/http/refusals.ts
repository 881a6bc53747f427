import type { Request, RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import type { Queryable } from "../db/database.js";
import { HttpError, invalidParams, tooLarge } from "../errors.js";
import { type CallerRequest, throttledIdentifier } from "./auth.js";
import { isMultipart, mediaType } from "./grape.js";
import { integerParametersOf, integerTextProblem } from "./integers.js";
import type { ParamProblem } from "./invalid-params.js";
import { parseRackQuery } from "./rack.js";

export interface RateLimitOptions {
  /** Requests allowed per user (or, without one, per client address) and window. */
  limit: number;
  windowMs: number;
}

/**
 * The body's parameters as Rails reads them when Rack::Attack's authenticator asks (`ActionDispatch::Request
 * #params`), while the body is still raw here: a form (also a POST without a Content-Type, Rack's
 * `form_data?`), a JSON object, or the multipart fields already read. Anything unreadable carries none.
 */
function bodyParams(req: Request): unknown {
  const raw: unknown = req.body;
  if (!Buffer.isBuffer(raw)) return isMultipart(req) ? raw : undefined;
  const type = mediaType(req.get("content-type"));
  try {
    if (type === "application/x-www-form-urlencoded" || (type === undefined && req.method === "POST")) {
      return parseRackQuery(raw.toString("utf8"));
    }
    return type === "application/json" ? JSON.parse(raw.toString("utf8")) : undefined;
  } catch {
    return undefined;
  }
}

/** Each request's identifier, looked up once for the key, the refusal's name and headers. */
const identifiers = new WeakMap<Request, Promise<string | null>>();

function identifierOf(db: Queryable, req: Request): Promise<string | null> {
  let found = identifiers.get(req);
  if (!found) {
    const caller: CallerRequest = { get: req.get.bind(req), query: req.query, body: bodyParams(req) };
    found = throttledIdentifier(db, caller);
    identifiers.set(req, found);
  }
  return found;
}

/** `Tue, 05 Jan 2021 11:00:00 GMT`, Ruby's `Time#httpdate`. */
const httpDate = (date: Date) => date.toUTCString();

/**
 * GitLab's instance-wide API throttles (Rack::Attack `throttle_authenticated_api` and
 * `throttle_unauthenticated_api`): beyond `limit` requests a window, per user (whichever of the user's tokens
 * the request presents, in any place GitLab reads one: `throttledIdentifier`) or, for a request that
 * authenticates no user, per client address, the answer is Rack::Attack's: 429 `text/plain` `Retry later`,
 * with `Retry-After` and the `RateLimit-*` headers of `Gitlab::RackAttack.throttled_response_headers` (the
 * limit scaled to a minute). A runner's requests (its token in `token`) are counted by neither.
 */
export function limitRate(db: Queryable, options: RateLimitOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: false,
    legacyHeaders: false,
    skip: async (req) => (await identifierOf(db, req)) === "runner",
    keyGenerator: async (req) => (await identifierOf(db, req)) ?? `ip:${ipKeyGenerator(req.ip ?? "")}`,
    handler: async (req, res) => {
      const authenticated = (await identifierOf(db, req)) !== null;
      const used = req.rateLimit?.used ?? options.limit + 1;
      const reset = req.rateLimit?.resetTime ?? new Date(Date.now() + options.windowMs);
      const retryAfter = Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000));
      res.status(429).set({
        "RateLimit-Name": authenticated ? "throttle_authenticated_api" : "throttle_unauthenticated_api",
        "RateLimit-Limit": String(Math.ceil((options.limit * 60_000) / options.windowMs)),
        "RateLimit-Observed": String(used),
        "RateLimit-Remaining": String(Math.max(0, options.limit - used)),
        "RateLimit-Reset": String(Math.floor(reset.getTime() / 1000)),
        "RateLimit-ResetTime": httpDate(reset),
        "Retry-After": String(retryAfter),
      });
      // Exactly `text/plain`, as Rack::Attack sends it: Express's `set` and `send` would add a charset.
      res.setHeader("Content-Type", "text/plain");
      res.end("Retry later\n");
    },
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
 * Integer parameters the validator accepted must also be written as integers (`integerTextProblem`), all
 * of them reported at once, as Grape does. Runs after the validator: the values it turned into numbers are
 * exactly the operation's own integer parameters (a `per_page` sent to `/job`, which has none, stays a
 * string and is ignored, as GitLab does).
 */
export const rejectNonIntegerText: RequestHandler = (req, _res, next) => {
  const pathParams: Record<string, unknown> | undefined = req.openapi?.pathParams;
  const query = req.query as Record<string, unknown>;
  const problems: ParamProblem[] = [];
  for (const name of integerParametersOf(req)) {
    const value = pathParams?.[name] ?? query[name];
    // Only the values the validator read as numbers: the text of an absent one is not read (per request).
    if (typeof value !== "number") continue;
    // Whatever the text, a value Ajv read as Infinity must not reach the database.
    const problem =
      integerTextProblem(req, name) ?? (Number.isFinite(value) ? null : "does not have a valid value");
    if (problem) problems.push({ name, problem });
  }
  if (problems.length > 0) throw invalidParams(req, problems);
  next();
};
