import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { specPath } from "@jobs-api/types/files";
import express, { type ErrorRequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listen, type RunningServer } from "../src/server.js";

interface Refusal {
  status?: number;
  errors?: { path: string }[];
}

type ValidatorOptions = Parameters<typeof OpenApiValidator.middleware>[0];

/**
 * An app whose getJob answers `body` (not a job, for the response validator to refuse), validated by
 * express-openapi-validator on the bundled spec with `options`; a refusal answers its status and the paths
 * of its errors.
 */
async function serveGetJob(options: Partial<ValidatorOptions>, body: unknown) {
  const app = express();
  app.use(
    OpenApiValidator.middleware({
      apiSpec: specPath,
      validateApiSpec: false,
      validateRequests: true,
      validateResponses: true,
      validateSecurity: false,
      ...options,
    }),
  );
  app.get("/api/v4/projects/:id/jobs/:job_id", (_req, res) => {
    res.json(body);
  });
  const refusal: ErrorRequestHandler = (error: Refusal, _req, res, _next) => {
    res.status(error.status ?? 500).json({ paths: (error.errors ?? []).map((e) => e.path) });
  };
  app.use(refusal);
  return listen(app, { port: 0 });
}

/** `path`'s status and body from `server`. */
async function get(server: RunningServer, path: string) {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as { paths?: string[] } };
}

/**
 * The server hands express-openapi-validator a dereferenced spec, so the patch (patches/) leaves out the
 * spec's `paths` and `components` that eov attaches to each schema it compiles. A spec that keeps its
 * `$ref`s must still get them: without them Ajv cannot resolve `#/components/…`.
 */
describe("express-openapi-validator as patched, on a spec that keeps its $refs", () => {
  it("resolves the refs of request parameters and of response bodies", async () => {
    // Not a job: the response validator must reach the job schema behind its `$ref` to say so.
    const server = await serveGetJob({ $refParser: { mode: "bundle" } }, { id: 8 });
    try {
      const bad = await get(server, "/api/v4/projects/1/jobs/x");
      expect(bad.status).toBe(400);
      expect(bad.body.paths).toContain("/params/job_id");

      const lying = await get(server, "/api/v4/projects/1/jobs/8");
      expect(lying.status).toBe(500);
      // A property the job schema requires, found through its `$ref` (the first mismatch: eov's default).
      expect(lying.body.paths).toEqual(["/response/status"]);
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
  /** getJob answered `body` once, by a validator keeping compiled code in `dir`, as the server sets it. */
  async function serve(dir: string, body: unknown) {
    const server = await serveGetJob(
      {
        $refParser: { mode: "dereference" },
        serDes: [{ format: "date-time" }, { format: "date" }],
        compiledCache: dir,
      },
      body,
    );
    try {
      return await get(server, "/api/v4/projects/1/jobs/8");
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

/**
 * Ajv 2020 tracks which properties each `allOf`, `oneOf` and `if` evaluated, for `unevaluatedProperties`
 * and `unevaluatedItems` alone. The patch turns tracking off for a spec without those keywords, and must
 * leave it on for a spec that has them.
 */
describe("express-openapi-validator's evaluated-property tracking", () => {
  /** A spec whose `/things` answers an object of `allOf` parts, with `unevaluatedProperties: false` or not. */
  function thingSpec(closed: boolean) {
    const thing = {
      allOf: [{ type: "object", properties: { a: { type: "integer" } } }],
      ...(closed ? { unevaluatedProperties: false } : {}),
    };
    return {
      openapi: "3.1.0",
      info: { title: "things", version: "1" },
      paths: {
        "/things": {
          get: {
            responses: {
              "200": { description: "a thing", content: { "application/json": { schema: thing } } },
            },
          },
        },
      },
    };
  }

  /** `/things` answering `body`, validated with compiled code kept in a new directory; its status and that code. */
  async function answer(closed: boolean, body: unknown) {
    const dir = await mkdtemp(join(tmpdir(), "eov-unevaluated-"));
    const app = express();
    app.use(
      OpenApiValidator.middleware({
        apiSpec: thingSpec(closed) as unknown as ValidatorOptions["apiSpec"],
        validateApiSpec: false,
        validateRequests: true,
        validateResponses: true,
        compiledCache: dir,
      }),
    );
    app.get("/things", (_req, res) => {
      res.json(body);
    });
    const refusal: ErrorRequestHandler = (error: Refusal, _req, res, _next) => {
      res.status(error.status ?? 500).end();
    };
    app.use(refusal);
    const server = await listen(app, { port: 0 });
    try {
      const { status } = await fetch(`${server.url}/things`);
      const code = await Promise.all((await readdir(dir)).map((name) => readFile(join(dir, name), "utf8")));
      return { status, code: code.join("\n") };
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("keeps tracking for a spec with unevaluatedProperties: a property no part evaluated is refused", async () => {
    const closed = await answer(true, { a: 1, b: 2 });
    expect(closed.status).toBe(500);
    expect(closed.code).toContain("props");
    expect((await answer(true, { a: 1 })).status).toBe(200);
  });

  it("compiles without tracking for a spec without them, accepting what it accepted", async () => {
    const open = await answer(false, { a: 1, b: 2 });
    expect(open.status).toBe(200);
    expect(open.code).not.toContain("props");
    // A part's own rules still hold.
    expect((await answer(false, { a: "one" })).status).toBe(500);
  });
});

/**
 * The patch has `pattern`s and the formats ajv-formats checks with a regular expression flatten each string
 * before testing it (V8's `RegExp#test` is slower on a string made by concatenation). Verdicts must not
 * change, compiled or loaded from kept code.
 */
describe("express-openapi-validator's regular expressions", () => {
  const spec = {
    openapi: "3.1.0",
    info: { title: "strings", version: "1" },
    paths: {
      "/strings": {
        get: {
          responses: {
            "200": {
              description: "strings",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      sha: { type: "string", pattern: "^[0-9a-f]{40}$" },
                      at: { type: "string", format: "date-time" },
                      web: { type: "string", format: "uri" },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };

  /** An app answering each request with `bodies`' next, validated with code kept in `dir` (or none). */
  async function serveStrings(dir: string | undefined, bodies: Record<string, string>[]) {
    const app = express();
    app.use(
      OpenApiValidator.middleware({
        apiSpec: spec as unknown as ValidatorOptions["apiSpec"],
        validateApiSpec: false,
        validateRequests: true,
        // As the server has it: a refused response is validated again for every error.
        validateResponses: { allErrors: true },
        // As the server has it: eov's default serializers are keywords Ajv cannot write as code.
        serDes: [{ format: "date-time" }, { format: "date" }],
        ...(dir ? { compiledCache: dir } : {}),
      }),
    );
    let next = 0;
    app.get("/strings", (_req, res) => {
      res.json(bodies[next++]);
    });
    const refusal: ErrorRequestHandler = (error: Refusal, _req, res, _next) => {
      res.status(error.status ?? 500).json({ paths: (error.errors ?? []).map((e) => e.path) });
    };
    app.use(refusal);
    return listen(app, { port: 0 });
  }

  /** Strings made by concatenation at run time (cons strings), as a server makes its URLs and times. */
  const joined = (...parts: string[]) => parts.reduce((text, part) => text + part, "");
  const bodies = (): Record<string, string>[] => [
    {
      sha: joined("a".repeat(20), "b".repeat(20)),
      at: joined("2016-01-11T10:13:33.506", "Z"),
      web: joined("https://gitlab.example.com", "/-/jobs/8"),
    },
    { sha: "a".repeat(40), at: "2016-01-11T10:13:33.506Z", web: "https://gitlab.example.com/-/jobs/8" },
    { sha: joined("a".repeat(20), "B".repeat(20)) },
    { at: joined("2016-01-11 10:13:33", "Z") },
    { web: joined("gitlab.example.com", "/-/jobs/8") },
    { sha: joined("a".repeat(20), "b".repeat(21)), at: joined("2016-01-11T10:13:33.506", "Q") },
  ];

  async function verdicts(dir: string | undefined) {
    const server = await serveStrings(dir, bodies());
    try {
      const answers = [];
      for (const _ of bodies()) answers.push(await get(server, "/strings"));
      return answers;
    } finally {
      await server.close();
    }
  }

  const expected = [
    { status: 200 },
    { status: 200 },
    { status: 500, body: { paths: ["/response/sha"] } },
    { status: 500, body: { paths: ["/response/at"] } },
    { status: 500, body: { paths: ["/response/web"] } },
    { status: 500, body: { paths: ["/response/sha", "/response/at"] } },
  ];

  it("accepts and refuses strings made by concatenation as any other, compiled or kept", async () => {
    const match = (answers: Awaited<ReturnType<typeof verdicts>>) =>
      answers.map(({ status, body }) => (status === 200 ? { status } : { status, body }));
    expect(match(await verdicts(undefined))).toEqual(expected);
    const dir = await mkdtemp(join(tmpdir(), "eov-regexp-"));
    try {
      expect(match(await verdicts(dir))).toEqual(expected);
      const code = await Promise.all((await readdir(dir)).map((name) => readFile(join(dir, name), "utf8")));
      // The `pattern` is made by the patch's maker, required from the process that loads the code.
      expect(code.join("\n")).toContain('require("express-openapi-validator:regexp")');
      // Loaded from the kept code by a new validator: the same verdicts.
      expect(match(await verdicts(dir))).toEqual(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
