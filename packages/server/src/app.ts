import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { docsPath, type OperationId, operationTable, specPath, specYamlPath } from "@jobs-api/types";
import bytes from "bytes";
import compression from "compression";
import cors from "cors";
import express, { type Express, type RequestHandler, Router } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { rateLimit } from "express-rate-limit";
import { type Logger, pino } from "pino";
import { pinoHttp } from "pino-http";
import type { Database } from "./db/database.js";
import { errorHandler, HttpError, invalidParam, tooLarge, unmatchedRoute } from "./errors.js";
import { createHandlers, type Handlers } from "./handlers/jobs.js";
import { TOKEN_QUERY_PARAMS } from "./http/auth.js";
import { arraysFromHashes, isMultipart, parseRackQuery, readBody, readMultipart } from "./http/grape.js";
import { apiSecurityHeaders, exactContentTypes } from "./http/headers.js";
import { integerParameters, integerTextProblem } from "./http/integers.js";
// The type of `req.openapi`, for every module of the app.
import type {} from "./http/request.js";
import { listen } from "./server.js";

export interface RateLimitOptions {
  /** Requests allowed per client address and window. */
  limit: number;
  windowMs: number;
}

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
}

export const API_BASE = "/api/v4";

/** The docs page as the published package carries it (`@jobs-api/types` does not publish it). */
const ownDocsPath = fileURLToPath(new URL("../docs/index.html", import.meta.url));

/** `config/application.rb`'s second `Rack::Cors` rule (the first is for GitLab's own origin, with cookies). */
const CORS: cors.CorsOptions = {
  origin: "*",
  credentials: false,
  methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
  exposedHeaders: ["Link", "X-Total", "X-Total-Pages", "X-Per-Page", "X-Page", "X-Next-Page", "X-Prev-Page"],
  // rack-cors' default max age.
  maxAge: 7200,
  optionsSuccessStatus: 200,
};
const corsPreflight = cors(CORS);
const corsHeaders = cors({ ...CORS, preflightContinue: true });

/** rack-cors answers an OPTIONS itself only when it is a preflight (it names the method it asks for). */
const corsLikeRack: RequestHandler = (req, res, next) =>
  req.method === "OPTIONS" && req.get("access-control-request-method") === undefined
    ? corsHeaders(req, res, next)
    : corsPreflight(req, res, next);

const TOKEN_PARAMS: ReadonlySet<string> = new Set(Object.values(TOKEN_QUERY_PARAMS));

/**
 * Request URLs as logged: the values of token query parameters replaced, so that logs never hold a token.
 * Names are compared as the query parser reads them (`private%5Ftoken` is `private_token`, `job_token[]`
 * an array of it) and in any case, so that no spelling the server might accept slips through.
 */
function redactUrl(url: string): string {
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

/**
 * Integer parameters the validator accepted must also be written as integers (`integerTextProblem`). Runs
 * after the validator: the values it turned into numbers are exactly the operation's own integer
 * parameters (a `per_page` sent to `/job`, which has none, stays a string and is ignored, as GitLab does).
 */
const rejectNonIntegerText: RequestHandler = (req, _res, next) => {
  const pathParams: Record<string, unknown> | undefined = req.openapi?.pathParams;
  const query = req.query as Record<string, unknown>;
  for (const name of integerParameters) {
    const value = pathParams?.[name] ?? query[name];
    if (typeof value !== "number") continue;
    const problem = integerTextProblem(req, name);
    if (problem) throw invalidParam(name, problem);
    // Whatever the text, a value Ajv read as Infinity must not reach the database.
    if (!Number.isFinite(value)) throw invalidParam(name);
  }
  next();
};

/**
 * A raw `#` or `\` in the request target: Express's URL parser cuts the path at the `#` and turns `\` into
 * `/`, while the validator matches the target as sent, so the two would disagree on the operation (the
 * validator then checks the router's 404 against that operation's schema). Neither belongs in a request
 * target (RFC 9112); they are refused before either looks at it.
 */
const rejectAmbiguousTarget: RequestHandler = (req, _res, next) => {
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
function refuseLargeBodies(limit: number): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.get("content-length") ?? 0);
    if (declared <= limit) return next();
    if (declared > LINGER_FACTOR * limit) throw tooLarge({ Connection: "close" });
    req.resume();
    throw tooLarge();
  };
}

/** One route per operation of the spec, each to the handler of its operationId. */
function routes(h: Handlers): Router {
  const router = Router({ caseSensitive: true });
  for (const [operationId, op] of Object.entries(operationTable) as [
    OperationId,
    (typeof operationTable)[OperationId],
  ][]) {
    // Express 5 forwards rejected promises to the error handler; no wrapper needed.
    router[op.method](op.path.replace(/\{(\w+)\}/g, ":$1"), h[operationId] as RequestHandler);
  }
  return router;
}

/** The validator middleware of each app, for `setUpValidator`. */
const validators = new WeakMap<Express, RequestHandler[]>();

/**
 * express-openapi-validator sets itself up on its first request (loads the spec, creates Ajv: ~0.35 s
 * here), which the first caller would wait for. This sends a first request through `app`'s validator,
 * mounted in a throwaway app on a free loopback port, so the app itself sees none of it (no rate-limit
 * quota spent, no request log line, no database query). Each operation's validators are still compiled on
 * the operation's first request (30–100 ms): compiling all of them ahead would add ~0.6 s to the start.
 */
export async function setUpValidator(app: Express): Promise<void> {
  const validator = validators.get(app);
  if (!validator) throw new Error("setUpValidator: not an app of createApp");
  const warm = express();
  warm.use(validator);
  warm.use(errorHandler(pino({ level: "silent" })));
  const server = await listen(warm, { port: 0, host: "127.0.0.1" });
  try {
    // A path of no operation: the validator sets itself up, then answers 404 without compiling any
    // operation's validators, which would add their cost to the start.
    const res = await fetch(`${server.url}${API_BASE}/`);
    await res.arrayBuffer();
  } finally {
    await server.close();
  }
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
  // Rack's query syntax: brackets build arrays and hashes, a repeated plain key keeps its last value.
  app.set("query parser", parseRackQuery);

  app.use(
    pinoHttp({
      logger,
      serializers: {
        req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  if (options.rateLimit) {
    app.use(
      rateLimit({
        windowMs: options.rateLimit.windowMs,
        limit: options.rateLimit.limit,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        handler: (_req, _res, next) => next(new HttpError(429, { message: "429 Too Many Requests" })),
      }),
    );
  }

  app.use(rejectAmbiguousTarget);
  // GitLab's `Rack::Cors` for `/api/*`: any origin, without credentials, any header and method.
  app.use("/api", corsLikeRack);
  app.use(exactContentTypes);
  app.use(API_BASE, apiSecurityHeaders);

  const health: RequestHandler = async (_req, res) => {
    await db.query("SELECT 1");
    res.json({ status: "ok" });
  };
  app.get("/-/health", health);
  app.get("/health", health);
  app.get("/openapi.json", (_req, res) => res.sendFile(specPath));
  app.get("/openapi.yaml", (_req, res) => res.type("application/yaml").sendFile(specYamlPath));
  // The docs page is 2.6 MB of HTML and inline scripts (about 0.6 MB gzipped); only it is compressed.
  app.get("/docs", compression(), (_req, res) => {
    // The repository's build, else the copy the published package carries (`prepack`).
    const docs = [docsPath, ownDocsPath].find((path) => existsSync(path));
    if (!docs) throw new HttpError(404, { error: "404 Not Found - docs are not built" });
    res.sendFile(docs);
  });
  // The site root leads to the docs; the API root answers as on GitLab, with a link to them.
  app.get("/", (_req, res) => res.redirect(302, "/docs"));
  app.get(
    API_BASE,
    (_req, res, next) => {
      res.set("Link", '</docs>; rel="service-doc"');
      next();
    },
    unmatchedRoute,
  );

  const bodyLimit = bytes.parse(options.bodyLimit ?? "1mb");
  if (bodyLimit === null) throw new Error(`invalid body limit: ${options.bodyLimit}`);
  app.use(
    API_BASE,
    refuseLargeBodies(bodyLimit),
    // Multipart bodies are parsed by multer (nested field names as Rack reads them), every other body is
    // read whole, then as Grape would.
    readMultipart(bodyLimit),
    express.raw({ type: (req) => !isMultipart(req), limit: bodyLimit }),
    readBody,
    arraysFromHashes,
  );
  const validator = OpenApiValidator.middleware({
    apiSpec: specPath,
    // The bundle is linted and checked against the OpenAPI schema by the spec pipeline (`pnpm check:generated`);
    // checking it again here cost ~85 ms of every start.
    validateApiSpec: false,
    validateRequests: { allowUnknownQueryParameters: true, coerceTypes: true },
    validateResponses: options.validateResponses === false ? false : { allErrors: true },
    validateSecurity: false,
    // Multipart bodies were read before (`readMultipart`), with GitLab's answers to malformed ones.
    fileUploader: false,
    ignorePaths: (path: string) => !path.startsWith(`${API_BASE}/`),
  });
  validators.set(app, validator);
  app.use(validator);
  app.use(API_BASE, rejectNonIntegerText, routes(createHandlers(db, { externalUrl: options.externalUrl })));
  app.use(unmatchedRoute);
  app.use(errorHandler(logger));
  return app;
}
