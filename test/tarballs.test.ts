import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { launchChromium } from "../test-support/chromium.js";

/**
 * The public packages as a user of the registry gets them: packed by `pnpm pack` (which turns the
 * `workspace:*` dependencies into versions), installed by npm into a project outside this repository, and
 * used from there only (Node ESM, `tsc`, a browser bundle, the command-line programs). Every run packs
 * and installs afresh; npm's cache of registry packages is used (`--prefer-offline`), which holds no file of
 * these packages.
 */

const run = promisify(execFile);
const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGES = ["types", "client", "server", "conformance", "runner"];
const MAINTAINER_TOKEN = "glpat-demo-maintainer-token";
const JOB_TOKEN = "glcbt-demo-running-job-token";
const RUNNER_TOKEN = "glrt-demo-runner-token";

/**
 * What a user's code does with the client, run by Node and, bundled, by Chromium: a job, every page of a
 * list (so `Link` is followed), and GitLab's error on a bad token.
 */
const scenario = `import { createJobsClient, JobsApiError } from "@jobs-api/client";

export async function scenario(api, token) {
  const gitlab = createJobsClient({ baseUrl: api, token });
  const job = await gitlab.getJob({ id: "foo/bar", job_id: 8 });
  const failed = [];
  for await (const j of gitlab.paginate("listProjectJobs", { id: "foo/bar", scope: ["failed"], per_page: 2 })) {
    failed.push(j.id);
  }
  let refused = null;
  try {
    await createJobsClient({ baseUrl: api, token: "glpat-wrong" }).getJob({ id: 1, job_id: 8 });
  } catch (error) {
    refused = error instanceof JobsApiError ? { status: error.status, message: error.apiMessage } : String(error);
  }
  return { job: { name: job.name, status: job.status }, failed, refused };
}
`;

/** A TypeScript consumer: what `tsc --strict` must accept with the published declarations as they are. */
const consumer = `import { createJobsClient, type Job, JobsApiError } from "@jobs-api/client";
import type { JobStatus } from "@jobs-api/types";

const gitlab = createJobsClient({ baseUrl: "https://gitlab.example.com/api/v4", token: "glpat-token" });

export async function failedJobs(id: string): Promise<Job[]> {
  const failed: Job[] = [];
  for await (const job of gitlab.paginate("listProjectJobs", { id, scope: ["failed"] })) failed.push(job);
  return failed;
}

export const isFailed = (job: Job): boolean => job.status === ("failed" satisfies JobStatus);
export const statusOf = (error: unknown): number | undefined =>
  error instanceof JobsApiError ? error.status : undefined;
`;

let dir: string;
let project: string;
let server: ChildProcess;
let api: string;

/** Runs a program of the scratch project (`npx`, `node`), from the project's folder. */
function inProject(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(file, args, { cwd: project, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
}

/** `npx jobs-api-server` on a free port over a fresh data directory; resolves its API URL once it listens. */
async function startServer(): Promise<string> {
  // Its own process group, so that stopping it stops npx and the server under it.
  server = spawn(
    "npx",
    ["jobs-api-server", "--port", "0", "--data-dir", join(dir, "data"), "--log-level", "info"],
    { cwd: project, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const stderr: string[] = [];
  server.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = once(server, "exit").then(([code]) => {
    throw new Error(`jobs-api-server exited (${code}) before listening: ${stderr.join("")}`);
  });
  const listening = (async () => {
    for await (const line of createInterface({ input: server.stdout as NodeJS.ReadableStream })) {
      const entry = JSON.parse(line) as { url?: string; msg?: string };
      if (entry.url && entry.msg?.startsWith("listening")) return entry.url;
    }
    throw new Error(`jobs-api-server closed its output before listening: ${stderr.join("")}`);
  })();
  return Promise.race([listening, exited]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobs-api-tarballs-"));
  project = join(dir, "project");
  const packs = join(dir, "packs");
  // What is packed is dist as the current source builds it (incremental: cheap when up to date).
  await run(process.execPath, [join(rootDir, "node_modules/typescript/bin/tsc"), "-b", rootDir]);
  await Promise.all(
    PACKAGES.map((name) =>
      run("pnpm", ["pack", "--pack-destination", packs], { cwd: join(rootDir, "packages", name) }),
    ),
  );
  const tarballs = (await readdir(packs)).map((file) => join(packs, file));
  expect(tarballs).toHaveLength(PACKAGES.length);
  await mkdir(project);
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await writeFile(join(project, "scenario.mjs"), scenario);
  await inProject("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs]);
  api = await startServer();
}, 240_000);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    const exited = once(server, "exit");
    process.kill(-server.pid, "SIGTERM");
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the packed packages, installed with npm outside the repository", () => {
  it("have real versions instead of workspace: and catalog: dependencies", async () => {
    const manifest = async (name: string) =>
      JSON.parse(await readFile(join(project, "node_modules/@jobs-api", name, "package.json"), "utf8")) as {
        version: string;
        dependencies: Record<string, string>;
      };
    const manifests = await Promise.all(PACKAGES.map(manifest));
    const ranges = manifests.flatMap((m) => Object.values(m.dependencies));
    expect(ranges.filter((range) => /^(workspace|catalog):/.test(range))).toEqual([]);
    const { version } = await manifest("types");
    expect((await manifest("client")).dependencies).toMatchObject({ "@jobs-api/types": version });
    // A catalog: range becomes the catalog's range.
    const { catalog } = parse(await readFile(join(rootDir, "pnpm-workspace.yaml"), "utf8")) as {
      catalog: Record<string, string>;
    };
    expect((await manifest("server")).dependencies).toMatchObject({
      "@jobs-api/types": version,
      express: catalog.express,
    });
  });

  it("serve the client and the types from Node ESM against the installed server (npx jobs-api-server)", async () => {
    const { stdout } = await inProject("node", [
      "--input-type=module",
      "-e",
      `import { scenario } from "./scenario.mjs";
       import { operationTable } from "@jobs-api/types";
       import { specPath } from "@jobs-api/types/files";
       import { existsSync } from "node:fs";
       const result = await scenario(...process.argv.slice(1));
       console.log(JSON.stringify({ ...result, path: operationTable.getJob.path, spec: existsSync(specPath) }));`,
      api,
      MAINTAINER_TOKEN,
    ]);
    const result = JSON.parse(stdout);
    expectScenario(result);
    expect(result).toMatchObject({ path: "/projects/{id}/jobs/{job_id}", spec: true });
  });

  // The library carries the patched express-openapi-validator (scripts/bundle.mjs): npm installs the
  // registry's copy, which knows no `compiledCache`. With the patched one, the double's validators are kept.
  it("serve a GitLab double from the library (startDouble), with the patched validator", async () => {
    const { stdout } = await inProject("node", [
      "--input-type=module",
      "-e",
      `import { startDouble } from "@jobs-api/server";
       const double = await startDouble();
       const answer = await fetch(double.baseUrl + "/projects/foo%2Fbar/jobs/8", {
         headers: { "PRIVATE-TOKEN": process.argv[1] },
       });
       console.log(JSON.stringify({ status: answer.status, name: (await answer.json()).name }));
       await double.close();`,
      MAINTAINER_TOKEN,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: 200, name: "rubocop" });
    const kept = await readdir(
      join(project, "node_modules/@jobs-api/server/node_modules/.cache/jobs-api-server/validators"),
    );
    expect(kept.filter((name) => name.endsWith(".cjs")).length).toBeGreaterThanOrEqual(2);
  });

  // The default target of a new project: the declarations must not need ES2022's lib (`ErrorOptions` did).
  it("type-check in a consumer with tsc --strict on ES2020, without skipLibCheck", async () => {
    await writeFile(join(project, "consumer.ts"), consumer);
    const tsc = join(rootDir, "node_modules/typescript/bin/tsc");
    const result = await inProject(process.execPath, [
      tsc,
      "--strict",
      "--target",
      "es2020",
      "--module",
      "nodenext",
      "--noEmit",
      "consumer.ts",
    ]).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe("");
  });

  it("bundle with esbuild and run in Chromium, from another origin than the server's", async () => {
    const bundled = await build({
      absWorkingDir: project,
      stdin: {
        contents: `import { scenario } from "./scenario.mjs";
          const params = new URLSearchParams(location.search);
          scenario(params.get("api"), params.get("token")).then(
            (result) => { window.result = result; },
            (error) => { window.result = { error: String(error) }; },
          );`,
        resolveDir: project,
        loader: "js",
      },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2020",
      write: false,
      logLevel: "silent",
    });
    const script = bundled.outputFiles[0]?.text ?? "";
    const page = await servePage(`<!doctype html><script type="module">${script}</script>`);
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const tab = await browser.newPage();
      // `localhost` and the server's `127.0.0.1` are different origins: every call is cross-origin.
      const query = new URLSearchParams({ api, token: MAINTAINER_TOKEN });
      await tab.goto(`http://localhost:${(page.address() as AddressInfo).port}/?${query}`);
      await tab.waitForFunction(() => "result" in window, undefined, { timeout: 20_000 });
      expectScenario(await tab.evaluate(() => (window as unknown as { result: unknown }).result));
    } finally {
      await browser?.close();
      await new Promise((done) => page.close(done));
    }
  });

  it("run jobs-api-conformance (npx): --help, and every read-only check passes on the installed server", async () => {
    const help = await inProject("npx", ["jobs-api-conformance", "--help"]);
    expect(help.stdout).toMatch(/^Usage: jobs-api-conformance --base-url URL/);
    // execFile rejects on a non-zero exit, with the report in the error.
    const { stdout } = await inProject(
      "npx",
      ["jobs-api-conformance", "--base-url", api, "--project", "foo/bar"],
      { GITLAB_TOKEN: MAINTAINER_TOKEN, GITLAB_JOB_TOKEN: JOB_TOKEN },
    );
    expect(stdout).not.toContain("FAIL");
    expect(stdout).toMatch(/^\d+ checks against .* in [\d.]+ m?s$/m);
  });

  // Last: it runs the demo's pending jobs, which the tests above do not read.
  it("run jobs-api-runner (npx): it takes the demo's pending jobs and finishes them", async () => {
    const pending = async () => {
      const answer = await fetch(`${api}/projects/foo%2Fbar/jobs?scope[]=pending`, {
        headers: { "PRIVATE-TOKEN": MAINTAINER_TOKEN },
      });
      expect(answer.status).toBe(200);
      return ((await answer.json()) as unknown[]).length;
    };
    expect(await pending()).toBeGreaterThan(0);
    await inProject("npx", ["jobs-api-runner", "--url", new URL(api).origin, "--once", "--speed", "1000"], {
      JOBS_API_RUNNER_TOKEN: RUNNER_TOKEN,
    });
    expect(await pending()).toBe(0);
  });
});

/** The scenario's result against the demo data, the same from Node and from the browser. */
function expectScenario(result: unknown): void {
  expect(result).toMatchObject({
    job: { name: "rubocop", status: "failed" },
    refused: { status: 401, message: "401 Unauthorized" },
  });
  const { failed } = result as { failed: number[] };
  // More failed jobs than one page of 2 holds: the pages were followed through `Link`.
  expect(failed.length).toBeGreaterThan(2);
  expect(new Set(failed).size).toBe(failed.length);
}

function servePage(html: string): Promise<Server> {
  const page = createServer((req, res) => {
    if (new URL(req.url ?? "/", "http://page").pathname !== "/") return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "text/html" }).end(html);
  });
  return new Promise((done) => page.listen(0, "127.0.0.1", () => done(page)));
}
