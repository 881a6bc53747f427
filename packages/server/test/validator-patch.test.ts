import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { specPath } from "@jobs-api/types/files";
import express, { type ErrorRequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

/**
 * The patch's `compiledCache`: the code Ajv generates for a schema is kept in a directory, and a validator
 * made later (another process, in use) loads it instead of compiling the schema again.
 */
describe("express-openapi-validator's compiledCache", () => {
  /** An app that answers getJob with `body`, its validator keeping compiled code in `dir`. */
  async function serve(dir: string, body: unknown) {
    const app = express();
    app.use(
      OpenApiValidator.middleware({
        apiSpec: specPath,
        validateApiSpec: false,
        $refParser: { mode: "dereference" },
        validateRequests: true,
        validateResponses: true,
        validateSecurity: false,
        serDes: [{ format: "date-time" }, { format: "date" }],
        compiledCache: dir,
      }),
    );
    app.get("/api/v4/projects/:id/jobs/:job_id", (_req, res) => {
      res.json(body);
    });
    const refusal: ErrorRequestHandler = (error: Refusal, _req, res, _next) => {
      res.status(error.status ?? 500).json({ paths: (error.errors ?? []).map((e) => e.path) });
    };
    app.use(refusal);
    const server = await listen(app, { port: 0 });
    try {
      const res = await fetch(`${server.url}/api/v4/projects/1/jobs/8`);
      return { status: res.status, body: (await res.json()) as { paths?: string[] } };
    } finally {
      await server.close();
    }
  }

  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "eov-compiled-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("keeps each validator as code, and a later validator loads it instead of compiling", async () => {
    expect((await serve(dir, { id: 8 })).body.paths).toEqual(["/response/status"]);
    const kept = await readdir(dir);
    // The request's parameters and the 200 response's body.
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.every((name) => /^[0-9a-f]{40}\.cjs$/.test(name))).toBe(true);
    // Each kept file replaced by a validator that refuses everything in its own words: a validator made
    // afterwards answers with them, so it ran the files, not a compile of its own.
    const refuseAll = `module.exports = function validate() {
      validate.errors = [{ instancePath: "/from-the-cache", schemaPath: "#", keyword: "cached", params: {}, message: "kept" }];
      return false;
    };`;
    const texts = await Promise.all(kept.map((name) => readFile(join(dir, name), "utf8")));
    const isResponse = texts.map((text) => text.includes('"properties":{"response"'));
    // Those of the 200 response (its first pass, and the one listing every error of a refused response).
    expect(isResponse.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    // The response's validators alone: the request passes, the response is refused by the kept files.
    await Promise.all(kept.map((name, i) => (isResponse[i] ? writeFile(join(dir, name), refuseAll) : null)));
    expect(await serve(dir, { id: 8 })).toEqual({ status: 500, body: { paths: ["/from-the-cache"] } });
    // Every one: the request is refused (400) by the kept request validators.
    await Promise.all(kept.map((name) => writeFile(join(dir, name), refuseAll)));
    const refused = await serve(dir, { id: 8 });
    expect(refused.status).toBe(400);
    expect(new Set(refused.body.paths)).toEqual(new Set(["/from-the-cache"]));
  });

  it("compiles again over a file it cannot load, and works without a directory it can write", async () => {
    await serve(dir, { id: 8 });
    const kept = await readdir(dir);
    await Promise.all(kept.map((name) => writeFile(join(dir, name), "this is not JavaScript {")));
    expect((await serve(dir, { id: 8 })).body.paths).toEqual(["/response/status"]);
    // Compiled again, and written over the broken files.
    for (const name of kept) expect(await readFile(join(dir, name), "utf8")).toContain("validate");

    // A "directory" that is a file: nothing can be kept, and every response is validated all the same.
    const notADirectory = join(dir, kept[0] ?? "file");
    expect((await serve(notADirectory, { id: 8 })).body.paths).toEqual(["/response/status"]);
  });
});
