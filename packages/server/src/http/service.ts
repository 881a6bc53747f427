import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { docsPath, specPath, specYamlPath } from "@jobs-api/types/files";
import compression from "compression";
import { Router } from "express";
import { HttpError, unmatchedRoute } from "../errors.js";
import { API_BASE } from "./base.js";

/** The docs page as the published package carries it (`@jobs-api/types` does not publish it). */
const ownDocsPath = fileURLToPath(new URL("../../docs/index.html", import.meta.url));

/** The routes outside the API besides health (http/health.ts): the bundled spec and the docs. */
export function serviceRoutes(): Router {
  const router = Router({ caseSensitive: true });
  router.get("/openapi.json", (_req, res) => res.sendFile(specPath));
  router.get("/openapi.yaml", (_req, res) => res.type("application/yaml").sendFile(specYamlPath));
  // The docs page is 2.6 MB of HTML and inline scripts (about 0.7 MB gzipped); only it is compressed.
  router.get("/docs", compression(), (_req, res) => {
    // The repository's build, else the copy the published package carries (`prepack`).
    const docs = [docsPath, ownDocsPath].find((path) => existsSync(path));
    if (!docs) throw new HttpError(404, { error: "404 Not Found - docs are not built" });
    res.sendFile(docs);
  });
  // The site root leads to the docs; the API root answers as on GitLab, with a link to them.
  router.get("/", (_req, res) => res.redirect(302, "/docs"));
  // Every method: Express would otherwise answer an OPTIONS of a GET-only route itself.
  router.all(
    API_BASE,
    (_req, res, next) => {
      res.set("Link", '</docs>; rel="service-doc"');
      next();
    },
    unmatchedRoute,
  );
  return router;
}
