import bytes from "bytes";
import express, { type Express } from "express";
import { type Logger, pino } from "pino";
import type { Database } from "./db/database.js";
import { errorHandler, unmatchedRoute } from "./errors.js";
import { createHandlers } from "./handlers/jobs.js";
import { type AdminOptions, adminRoutes } from "./http/admin.js";
import { API_BASE } from "./http/base.js";
import { corsLikeRack } from "./http/cors.js";
import { headAsGet, isMultipart, paramsLikeGrape, readBody, readMultipart } from "./http/grape.js";
import { apiSecurityHeaders, exactContentTypes } from "./http/headers.js";
import { healthRoutes } from "./http/health.js";
import { requestLogger } from "./http/logging.js";
import { handleMalformedStrings } from "./http/malformed.js";
import { parseRackQuery } from "./http/rack.js";
import {
  limitRate,
  type RateLimitOptions,
  refuseLargeBodies,
  rejectAmbiguousTarget,
  rejectNonIntegerText,
} from "./http/refusals.js";
// The type of `req.openapi`, for every module of the app.
import type {} from "./http/request.js";
import { routes } from "./http/routes.js";
import { series } from "./http/series.js";
import { serviceRoutes } from "./http/service.js";
import { specValidator } from "./http/validator.js";

export type { AdminOptions } from "./http/admin.js";
// Where the CLI and the package's entry point take them from.
export { API_BASE } from "./http/base.js";
export type { RateLimitOptions } from "./http/refusals.js";
export { setUpValidator } from "./http/validator.js";

export interface AppOptions {
  db: Database;
  /** Request and error logs; tokens never reach it. Defaults to pino at `info` on stdout. */
  logger?: Logger;
  /** Validate every JSON response against the spec (a mismatch answers 500). Default true. */
  validateResponses?: boolean;
  /** Largest accepted JSON body (`bytes` syntax, e.g. `"100kb"`). Default 1mb. */
  bodyLimit?: string;
  /** Answer 429 with `Retry-After` beyond this rate. Off by default. */
  rateLimit?: RateLimitOptions;
  /**
   * Origin the `Link` headers point at (`https://gitlab.example.com`), as GitLab's `external_url`. By
   * default the request's own scheme and Host, which is right when clients reach the server directly.
   */
  externalUrl?: string;
  /** Serve `POST /-/reset` for callers with this admin token. Off by default (the route answers 404). */
  admin?: AdminOptions;
}

/** The Express app of the reference server, without listening. */
export function createApp(options: AppOptions): Express {
  const { db } = options;
  const logger = options.logger ?? pino();
  const app = express();
  app.disable("x-powered-by");
  // As on GitLab, `/API/V4/…` is not `/api/v4/…`. Case-insensitive routing would also let such a
  // request past the validator, which only looks at paths under the exact base.
  app.enable("case sensitive routing");
  // Rack's query syntax: brackets build arrays and hashes, a repeated plain key keeps its last value, a key
  // without `=` is null.
  app.set("query parser", parseRackQuery);

  app.use(requestLogger(logger));
  // From the first answer on: the body readers' refusals come before any other layer.
  app.use(exactContentTypes);
  // Before the rate limit: a probe must not be refused for the clients' traffic.
  app.use(healthRoutes(db));

  const bodyLimit = bytes.parse(options.bodyLimit ?? "1mb");
  if (bodyLimit === null) throw new Error(`invalid body limit: ${options.bodyLimit}`);
  // The API's bodies are read first: GitLab's Rails middleware reads them before anything else judges the
  // request. Multipart bodies are parsed by busboy (nested field names as Rack reads them), every other
  // body is read whole, and read as Grape would later (`readBody`).
  app.use(
    API_BASE,
    series(
      refuseLargeBodies(bodyLimit),
      readMultipart(bodyLimit),
      express.raw({ type: (req) => !isMultipart(req), limit: bodyLimit }),
    ),
  );
  // `Gitlab::Middleware::HandleMalformedStrings`, on every path, in front of Rack::Attack, Rack::Cors and
  // Grape (config/application.rb): a malformed request gets its 400 before any throttle, route or token.
  app.use(handleMalformedStrings);
  // Rack::Attack's API throttles count requests under `/api` only.
  if (options.rateLimit) app.use("/api", limitRate(db, options.rateLimit));
  app.use(rejectAmbiguousTarget);
  // GitLab's `Rack::Cors` for `/api/*`: any origin, without credentials, any header and method.
  app.use("/api", corsLikeRack);
  app.use(API_BASE, apiSecurityHeaders);
  app.use(serviceRoutes());
  if (options.admin) app.use(adminRoutes(options.admin));

  // Each run of middleware that always runs together is one layer (`series`): fewer layers for Express to
  // walk on every request.
  app.use(API_BASE, series(headAsGet, readBody, paramsLikeGrape));
  app.use(series(...specValidator(app, options.validateResponses !== false)));
  app.use(
    API_BASE,
    series(rejectNonIntegerText, routes(createHandlers(db, { externalUrl: options.externalUrl }))),
  );
  app.use(unmatchedRoute);
  app.use(errorHandler(logger));
  return app;
}
