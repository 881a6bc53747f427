import { existsSync } from "node:fs";
import { docsPath, specPath, specYamlPath } from "@jobs-api/types";
import { type RequestHandler, Router } from "express";
import type { Database } from "../db/database.js";
import { HttpError } from "../errors.js";

/** The routes outside the API: health (GitLab's `/-/health`, and `/health`), the bundled spec and the docs. */
export function serviceRoutes(db: Database): Router {
  const router = Router({ caseSensitive: true });
  const health: RequestHandler = async (_req, res) => {
    await db.query("SELECT 1");
    res.json({ status: "ok" });
  };
  router.get("/-/health", health);
  router.get("/health", health);
  router.get("/openapi.json", (_req, res) => res.sendFile(specPath));
  router.get("/openapi.yaml", (_req, res) => res.type("application/yaml").sendFile(specYamlPath));
  router.get("/docs", (_req, res) => {
    if (!existsSync(docsPath)) throw new HttpError(404, { error: "404 Not Found - docs are not built" });
    res.sendFile(docsPath);
  });
  return router;
}
