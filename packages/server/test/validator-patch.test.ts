import { specPath } from "@jobs-api/types/files";
import express, { type ErrorRequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { describe, expect, it } from "vitest";
import { listen } from "../src/server.js";

interface Refusal {
  status?: number;
  errors?: { path: string }[];
}

/**
 * The server hands express-openapi-validator a dereferenced spec, so the patch (patches/) leaves out the
 * spec's `paths` and `components` that eov attaches to each schema it compiles. A spec that keeps its
 * `$ref`s must still get them: without them Ajv cannot resolve `#/components/…`.
 */
describe("express-openapi-validator as patched, on a spec that keeps its $refs", () => {
  it("resolves the refs of request parameters and of response bodies", async () => {
    const app = express();
    app.use(
      OpenApiValidator.middleware({
        apiSpec: specPath,
        validateApiSpec: false,
        $refParser: { mode: "bundle" },
        validateRequests: true,
        validateResponses: true,
        validateSecurity: false,
      }),
    );
    // Not a job: the response validator must reach the job schema behind its `$ref` to say so.
    app.get("/api/v4/projects/:id/jobs/:job_id", (_req, res) => {
      res.json({ id: 8 });
    });
    const refusal: ErrorRequestHandler = (error: Refusal, _req, res, _next) => {
      res.status(error.status ?? 500).json({ paths: (error.errors ?? []).map((e) => e.path) });
    };
    app.use(refusal);
    const server = await listen(app, { port: 0 });
    try {
      const bad = await fetch(`${server.url}/api/v4/projects/1/jobs/x`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { paths: string[] }).paths).toContain("/params/job_id");

      const lying = await fetch(`${server.url}/api/v4/projects/1/jobs/8`);
      expect(lying.status).toBe(500);
      // A property the job schema requires, found through its `$ref` (the first mismatch: eov's default).
      expect(((await lying.json()) as { paths: string[] }).paths).toEqual(["/response/status"]);
    } finally {
      await server.close();
    }
  });
});
