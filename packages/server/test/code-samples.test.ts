import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { RUNNER_TAG } from "@jobs-api/types";
import { specPath } from "@jobs-api/types/files";
import { describe, expect, it } from "vitest";
import { DEMO_TOKENS, type DemoServer, startDemoServer } from "../src/index.js";
import { serveForFile } from "./helpers/server.js";

/**
 * The docs' `curl` samples (`x-codeSamples` of each operation) run as written against the reference server
 * with its demo data: only the host and the `<your_access_token>` and `<runner_token>` placeholders change,
 * and `$CI_JOB_TOKEN` is set in their environment as in a CI job. Each must answer the operation's
 * documented success status.
 */

interface CodeSample {
  lang: string;
  label: string;
  source: string;
}
interface Operation {
  operationId: string;
  tags: string[];
  responses: Record<string, unknown>;
  "x-codeSamples"?: CodeSample[];
}
const spec = JSON.parse(readFileSync(specPath, "utf8")) as {
  paths: Record<string, Record<string, Operation>>;
};
const DOCS_API = "https://gitlab.example.com/api/v4";
const run = promisify(execFile);
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => {
    const curl = op["x-codeSamples"]?.find((s) => s.label === "curl")?.source ?? "";
    const success = Object.keys(op.responses).filter((status) => status.startsWith("2"));
    return {
      path,
      method,
      operationId: op.operationId,
      curl,
      success,
      destructive: method !== "get",
      // The runner protocol's operations are for runners: no client method, so no TypeScript sample.
      runner: op.tags.includes(RUNNER_TAG),
    };
  }),
);

/** Runs one sample with curl through `sh` (its quoting and line continuations as a reader's shell reads them). */
async function runCurl(sample: string, api: string): Promise<{ status: number; body: string }> {
  const command = sample
    .trimEnd()
    .replaceAll(DOCS_API, api)
    .replaceAll("<your_access_token>", DEMO_TOKENS.maintainer)
    .replaceAll("<runner_token>", DEMO_TOKENS.runner);
  const { stdout } = await run(
    "sh",
    ["-c", `${command} --silent --show-error --write-out '\\n%{http_code}'`],
    {
      env: { ...process.env, CI_JOB_TOKEN: DEMO_TOKENS.job },
    },
  );
  const end = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(end + 1)), body: stdout.slice(0, end) };
}

let shared: DemoServer;
serveForFile((_db, server) => {
  shared = server;
});

describe("the docs' code samples", () => {
  it("document every operation with a curl and a TypeScript sample against gitlab.example.com", () => {
    expect(operations).toHaveLength(14);
    for (const { path, operationId, curl, success, runner } of operations) {
      const samples =
        spec.paths[path] && Object.values(spec.paths[path]).flatMap((op) => op["x-codeSamples"] ?? []);
      expect(
        samples?.map((s) => s.label),
        operationId,
      ).toEqual(runner ? ["curl"] : ["curl", "TypeScript"]);
      expect(curl, operationId).toMatch(/^curl /);
      // The URL is the operation's path under the docs' API root, with real ids and an optional query.
      const url = new RegExp(
        `"${escapeRegExp(DOCS_API)}${escapeRegExp(path).replace(/\\\{\w+\\\}/g, '[^/?"]+')}(\\?[^"]*)?"`,
      );
      expect(curl, operationId).toMatch(url);
      // A runner's token travels as the `token` parameter (updateJob: a job token in the form body).
      const credential =
        operationId === "requestJob"
          ? '"token": "<runner_token>"'
          : operationId === "updateJob"
            ? '--data "token=$CI_JOB_TOKEN"'
            : path.startsWith("/job")
              ? '--header "JOB-TOKEN: $CI_JOB_TOKEN"'
              : '--header "PRIVATE-TOKEN: <your_access_token>"';
      expect(curl, operationId).toContain(credential);
      // The runner's operations also document their other successes (204 no job, 202 update accepted);
      // their samples answer the first.
      if (!runner) expect(success, operationId).toHaveLength(1);
    }
  });

  it.each(operations.filter((op) => !op.destructive).map((op) => [op.operationId, op] as const))(
    "%s: the curl sample answers its documented success",
    async (_id, op) => {
      const { status, body } = await runCurl(op.curl, shared.api);
      expect(status, body).toBe(Number(op.success[0]));
      expect(body.length).toBeGreaterThan(0);
    },
  );

  it.each(operations.filter((op) => op.destructive).map((op) => [op.operationId, op] as const))(
    "%s: the curl sample answers its documented success, on fresh demo data",
    async (_id, op) => {
      let server: DemoServer | undefined;
      try {
        server = await startDemoServer();
        const { status, body } = await runCurl(op.curl, server.api);
        expect(status, body).toBe(Number(op.success[0]));
        // The runner's updates answer their status code (`"200"`) or nothing; the rest answer a job.
        if (op.operationId === "updateJob") expect(JSON.parse(body)).toBe("200");
        else if (op.operationId === "appendJobTrace") expect(body).toBe("");
        else expect(JSON.parse(body)).toMatchObject({ id: expect.any(Number) });
      } finally {
        await server?.close();
      }
    },
  );
});
