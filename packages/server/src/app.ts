import { existsSync } from "node:fs";
import { docsPath, specPath, specYamlPath } from "@jobs-api/types";
import express, { type Express, type RequestHandler, Router } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { rateLimit } from "express-rate-limit";
import { type Logger, pino } from "pino";
import { pinoHttp } from "pino-http";
import type { Database } from "./db/database.js";
import { errorHandler, HttpError, unmatchedRoute } from "./errors.js";
import { createHandlers, type Handlers } from "./handlers/jobs.js";

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
}

export const API_BASE = "/api/v4";

const TOKEN_PARAMS = /([?&](?:private_token|access_token|job_token)=)[^&]*/gi;

/** Request URLs as logged: token query parameters replaced, so that logs never hold a token. */
export const redactUrl = (url: string): string => url.replace(TOKEN_PARAMS, "$1[REDACTED]");

function routes(h: Handlers): Router {
  const router = Router();
  // Express 5 forwards rejected promises to the error handler; no wrapper needed.
  router.get("/projects/:id/jobs", h.listProjectJobs);
  router.get("/projects/:id/pipelines/:pipeline_id/jobs", h.listPipelineJobs);
  router.get("/projects/:id/pipelines/:pipeline_id/bridges", h.listPipelineBridges);
  router.get("/job", h.getJobTokenJob);
  router.get("/job/allowed_agents", h.getJobTokenAllowedAgents);
  router.get("/projects/:id/jobs/:job_id", h.getJob);
  router.get("/projects/:id/jobs/:job_id/trace", h.getJobTrace);
  router.post("/projects/:id/jobs/:job_id/cancel", h.cancelJob);
  router.post("/projects/:id/jobs/:job_id/retry", h.retryJob);
  router.post("/projects/:id/jobs/:job_id/erase", h.eraseJob);
  router.post("/projects/:id/jobs/:job_id/play", h.playJob);
  return router;
}

/** The Express app of the reference server, without listening. */
export function createApp(options: AppOptions): Express {
  const { db } = options;
  const logger = options.logger ?? pino();
  const app = express();
  app.disable("x-powered-by");
  // `scope[]=a&scope[]=b` (GitLab's clients) must parse to an array like `scope=a&scope=b`.
  app.set("query parser", "extended");

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
        handler: (_req, res) => {
          res
            .status(429)
            .type("application/json")
            .send(JSON.stringify({ message: "429 Too Many Requests" }));
        },
      }),
    );
  }

  const health: RequestHandler = async (_req, res) => {
    await db.query("SELECT 1");
    res.json({ status: "ok" });
  };
  app.get("/-/health", health);
  app.get("/health", health);
  app.get("/openapi.json", (_req, res) => res.sendFile(specPath));
  app.get("/openapi.yaml", (_req, res) => res.type("application/yaml").sendFile(specYamlPath));
  app.get("/docs", (_req, res) => {
    if (!existsSync(docsPath)) throw new HttpError(404, { error: "404 Not Found - docs are not built" });
    res.sendFile(docsPath);
  });

  app.use(API_BASE, express.json({ limit: options.bodyLimit ?? "1mb" }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: specPath,
      validateRequests: { allowUnknownQueryParameters: true, coerceTypes: true },
      validateResponses: options.validateResponses === false ? false : { allErrors: true },
      validateSecurity: false,
      ignorePaths: (path: string) => !path.startsWith(`${API_BASE}/`),
    }),
  );
  app.use(API_BASE, routes(createHandlers(db)));
  app.use(unmatchedRoute);
  app.use(errorHandler(logger));
  return app;
}
