import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DEMO_IDS, DEMO_TOKENS, startDemoServer, store } from "@jobs-api/server";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { CheckContext, CheckSkipped } from "../src/context.js";
import { Http } from "../src/http.js";
import { checks, exitCodes, main, type Report, SpecValidator } from "../src/index.js";
import { startFaultProxy } from "./fault-proxy.js";
import { faultCases } from "./faults.js";
import { referenceForAll } from "./reference.js";

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], env: Record<string, string> = {}, fetcher?: typeof fetch): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    ...(fetcher ? { fetch: fetcher } : {}),
  });
  return { code, out: out.join(""), err: err.join("") };
}

/** A server that answers every request with `answer`, e.g. a static file server's HTML. */
async function serve(
  answer: (res: import("node:http").ServerResponse) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => answer(res));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
}

describe("options", () => {
  it("prints the package's version", async () => {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(await run(["--version"])).toEqual({ code: exitCodes.passed, out: `${pkg.version}\n`, err: "" });
  });

  it("exits 2 with the reason for a token missing from the environment, a bad header, timeout or limit", async () => {
    const base = ["--base-url", "http://127.0.0.1:1/api/v4"];
    expect((await run(base)).err.split("\n")[0]).toBe(
      "a token is required: set GITLAB_TOKEN (or --token-env NAME)",
    );
    expect(
      (await run([...base, "--token-env", "MY_TOKEN"], { GITLAB_TOKEN: "glpat-unused" })).err.split("\n")[0],
    ).toBe("the environment variable MY_TOKEN is not set");
    const bad = await run([...base, "--header", "nocolon", "--timeout", "0", "--max-failures", "x"], {
      GITLAB_TOKEN: "glpat-unused",
    });
    expect(bad.code).toBe(exitCodes.usage);
    expect(bad.err.split("\n").slice(0, 3)).toEqual([
      `--header must be 'Name: value', not "nocolon"`,
      `--timeout must be a positive integer, not "0"`,
      `--max-failures must be a positive integer, not "x"`,
    ]);
  });

  it("exits 2 before sending anything when a report cannot be written", async () => {
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent += 1;
      return fetch(input, init);
    };
    const result = await run(
      ["--base-url", "http://127.0.0.1:1/api/v4", "--junit", "/no/such/dir/report.xml"],
      { GITLAB_TOKEN: "glpat-unused" },
      counting,
    );
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      "jobs-api-conformance: cannot write the --junit report to /no/such/dir/report.xml: the directory /no/such/dir does not exist\n",
    );
    expect(sent).toBe(0);
  });

  it("gives up on a request after --timeout milliseconds", async () => {
    const silent = await serve(() => {});
    try {
      const result = await run(["--base-url", `${silent.url}/api/v4`, "--project", "1", "--timeout", "200"], {
        GITLAB_TOKEN: "glpat-unused",
      });
      expect(result.code).toBe(exitCodes.usage);
      expect(result.err).toBe(
        `jobs-api-conformance: GET ${silent.url}/api/v4/jobs-api-conformance/no-such-route: no answer before the timeout\n`,
      );
    } finally {
      await stop(silent.server);
    }
  });
});

describe("preflight and options against the reference server", () => {
  const served = referenceForAll("conformance-preflight-");

  const base = () => ["--base-url", served.reference.baseUrl, "--project", served.reference.project];
  const jobsUrl = () => `${served.reference.baseUrl}/projects/${served.reference.project}/jobs?per_page=1`;

  it("says a static file server is not a GitLab API", async () => {
    const html = await serve((res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>Index</title>");
    });
    try {
      const result = await run(["--base-url", `${html.url}/api/v4`, "--project", "1"], {
        GITLAB_TOKEN: "glpat-unused",
      });
      expect(result.code).toBe(exitCodes.usage);
      expect(result.err).toBe(
        `jobs-api-conformance: this is not a GitLab API at ${html.url}/api/v4: GET ${html.url}/api/v4/projects/1/jobs?per_page=1 answered 200 (text/html) <!doctype html><title>Index</title>; an unknown route answered 200 (text/html), not GitLab's 404 {"error":"404 Not Found"}\n`,
      );
    } finally {
      await stop(html.server);
    }
  });

  it("says the token was refused", async () => {
    const result = await run(base(), { GITLAB_TOKEN: "glpat-wrong" });
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      `jobs-api-conformance: the token was refused: GET ${jobsUrl()} answered 401 (application/json) {"message":"401 Unauthorized"}\n`,
    );
  });

  it("says a Guest cannot read the jobs", async () => {
    const result = await run(base(), { GITLAB_TOKEN: DEMO_TOKENS.guest });
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      `jobs-api-conformance: the token's role in project ${served.reference.project} cannot read its jobs (the suite needs Reporter or more): GET ${jobsUrl()} answered 403 (application/json) {"message":"403 Forbidden"}\n`,
    );
  });

  it("runs a Reporter read-only, and refuses it --destructive, learning the role from a harmless cancel", async () => {
    const readOnly = await run([...base(), "--only", "getJob.unknownJob"], {
      GITLAB_TOKEN: DEMO_TOKENS.reporter,
    });
    expect(readOnly.err).toBe("");
    expect(readOnly.code).toBe(exitCodes.passed);
    const destructive = await run([...base(), "--destructive"], { GITLAB_TOKEN: DEMO_TOKENS.reporter });
    expect(destructive.code).toBe(exitCodes.usage);
    expect(destructive.err).toMatch(
      new RegExp(
        `^jobs-api-conformance: --destructive needs the Developer role in project ${served.reference.project}: canceling finished job (\\d+) \\(which changes nothing\\) was forbidden: POST ${served.reference.baseUrl}/projects/${served.reference.project}/jobs/\\1/cancel answered 403 \\(application/json\\) \\{"message":"403 Forbidden"\\}\\n$`,
      ),
    );
  });

  it("says a token without api or read_api cannot use the API, and refuses a read_api token --destructive (api_guard.rb insufficient_scope)", async () => {
    const server = await startDemoServer({ logger: pino({ level: "silent" }) });
    try {
      const [maintainer] = await server.db.query<{ id: number }>(
        "SELECT id FROM users WHERE username = 'root'",
      );
      const userId = maintainer?.id ?? 0;
      await store.createAccessToken(server.db, { userId, token: "glpat-read-api", scopes: ["read_api"] });
      await store.createAccessToken(server.db, { userId, token: "glpat-read-user", scopes: ["read_user"] });
      const args = ["--base-url", server.api, "--project", String(DEMO_IDS.project)];
      const readUser = await run(args, { GITLAB_TOKEN: "glpat-read-user" });
      expect(readUser.code).toBe(exitCodes.usage);
      // The body's excerpt is cut short; its beginning names GitLab's error.
      expect(readUser.err).toMatch(
        /^jobs-api-conformance: the token's scopes do not allow the API \(the suite needs api, or read_api without --destructive\): GET .*\/jobs\?per_page=1 answered 403 \(application\/json\) \{"error":"insufficient_scope",/,
      );
      const readOnly = await run([...args, "--only", "getJob.unknownJob"], {
        GITLAB_TOKEN: "glpat-read-api",
      });
      expect(readOnly.err).toBe("");
      expect(readOnly.code).toBe(exitCodes.passed);
      const destructive = await run([...args, "--destructive"], { GITLAB_TOKEN: "glpat-read-api" });
      expect(destructive.code).toBe(exitCodes.usage);
      expect(destructive.err).toMatch(
        /^jobs-api-conformance: --destructive needs a token with the api scope: canceling finished job \d+ \(which changes nothing\) was refused: POST .* answered 403 \(application\/json\) \{"error":"insufficient_scope",/,
      );
      // A check meeting GitLab's refusal of the token's scopes is skipped, not failed.
      const ctx = new CheckContext(
        new Http({ baseUrl: server.api, secrets: [] }),
        SpecValidator.load(),
        {
          project: { given: String(DEMO_IDS.project), id: DEMO_IDS.project, path: undefined },
          jobs: [],
          bridgePipeline: undefined,
          jobTokenJob: undefined,
          claimed: new Set<number>(),
          accessLevel: undefined,
        },
        { token: "glpat-read-api", jobToken: undefined },
        true,
      );
      const skipped = await ctx.call("cancelJob", { params: { job_id: 1 } }).catch((e: unknown) => e);
      expect(skipped).toBeInstanceOf(CheckSkipped);
      expect((skipped as CheckSkipped).message).toBe(
        "the token's scopes do not allow this request (403 insufficient_scope: it needs the api scope)",
      );
    } finally {
      await server.close();
    }
  });

  it("reads the role from GitLab's project permissions when the server has them", async () => {
    const withPermissions: typeof fetch = async (input, init) => {
      if (String(input) === `${served.reference.baseUrl}/projects/${served.reference.project}`) {
        return Response.json({
          id: 1,
          permissions: { project_access: { access_level: 20 }, group_access: null },
        });
      }
      return fetch(input, init);
    };
    const result = await run(
      [...base(), "--destructive"],
      { GITLAB_TOKEN: served.reference.token },
      withPermissions,
    );
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      `jobs-api-conformance: --destructive needs the Developer role in project ${served.reference.project}; the token has Reporter (access level 20, GET /projects/${served.reference.project} permissions)\n`,
    );
  });

  it("says the project was not found, by id and by path", async () => {
    for (const [given, shown] of [
      ["999999", "999999"],
      ["no/such", "no%2Fsuch"],
    ] as const) {
      const result = await run(["--base-url", served.reference.baseUrl, "--project", given], {
        GITLAB_TOKEN: served.reference.token,
      });
      expect(result.code).toBe(exitCodes.usage);
      expect(result.err).toBe(
        `jobs-api-conformance: project ${given} was not found, or the token cannot see it: GET ${served.reference.baseUrl}/projects/${shown}/jobs?per_page=1 answered 404 (application/json) {"message":"404 Project Not Found"}\n`,
      );
    }
  });

  it("asks for a project when neither --project nor a job token names one", async () => {
    const result = await run(["--base-url", served.reference.baseUrl], {
      GITLAB_TOKEN: served.reference.token,
    });
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      "jobs-api-conformance: no project: give --project <id or path> (or a --job-token, whose job names one)\n",
    );
  });

  it("says a base URL that is not the API root has no Jobs API, rather than blaming the project or the job token", async () => {
    const origin = new URL(served.reference.baseUrl).origin;
    for (const [baseUrl, env, path] of [
      [`${origin}/api/v3`, { GITLAB_TOKEN: served.reference.token }, "/projects/1/jobs?per_page=1"],
      [origin, { GITLAB_TOKEN: served.reference.token }, "/projects/1/jobs?per_page=1"],
      [
        `${origin}/api/v3`,
        { GITLAB_TOKEN: served.reference.token, GITLAB_JOB_TOKEN: served.reference.jobToken },
        "/job",
      ],
    ] as const) {
      const result = await run(["--base-url", baseUrl, "--project", "1"], { ...env });
      expect(result.code).toBe(exitCodes.usage);
      expect(result.err).toBe(
        `jobs-api-conformance: no Jobs API at ${baseUrl}: GET ${baseUrl}${path} answered 404 (application/json) {"error":"404 Not Found"}, GitLab's answer to an unknown route (the base URL is the API root, e.g. https://gitlab.example.com/api/v4)\n`,
      );
    }
  });

  it("says the job token was refused", async () => {
    const result = await run([...base(), "--job-token-env", "CI_JOB_TOKEN"], {
      GITLAB_TOKEN: served.reference.token,
      CI_JOB_TOKEN: "glcbt-wrong",
    });
    expect(result.code).toBe(exitCodes.usage);
    expect(result.err).toBe(
      `jobs-api-conformance: the job token was refused (it must be the CI_JOB_TOKEN of a job that is still running): GET ${served.reference.baseUrl}/job answered 401 (application/json) {"message":"401 Unauthorized"}\n`,
    );
  });

  it("sends --header with every request, and takes the tokens from the environment", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(new Headers(init?.headers).get("x-proxy-auth") ?? "(none)");
      return fetch(input, init);
    };
    const result = await run(
      [
        ...base(),
        "--only",
        "getJob.unknownJob,getJobTokenJob.withJobToken",
        "--header",
        "X-Proxy-Auth: let me in",
      ],
      { GITLAB_TOKEN: served.reference.token, GITLAB_JOB_TOKEN: served.reference.jobToken },
      recording,
    );
    expect(result.code).toBe(exitCodes.passed);
    expect(result.out).toContain("pass  getJobTokenJob.withJobToken");
    expect(seen.length).toBeGreaterThan(3);
    expect(new Set(seen)).toEqual(new Set(["let me in"]));
  });

  it("stops after --max-failures failed checks and says so", async () => {
    const fault = faultCases.find((f) => f.name === "wrong order");
    if (!fault) throw new Error("the wrong-order fault is missing");
    const proxy = await startFaultProxy(served.reference.baseUrl, fault.make(served.reference.token));
    try {
      const json = join(served.dir, "stopped.json");
      const result = await run(
        [
          "--base-url",
          proxy.baseUrl,
          "--project",
          served.reference.project,
          "--max-failures",
          "1",
          "--json",
          json,
        ],
        { GITLAB_TOKEN: served.reference.token },
      );
      expect(result.code).toBe(exitCodes.failed);
      const report = JSON.parse(await readFile(json, "utf8")) as Report;
      expect(report.counts.failed).toBe(1);
      expect(report.stopped).toEqual({ maxFailures: 1, notRun: checks.length - report.counts.total });
      expect(result.out).toContain(
        `Stopped after 1 failed checks (--max-failures): ${checks.length - report.counts.total} checks did not run.`,
      );
    } finally {
      await proxy.close();
    }
  });

  it("does not tell a --destructive run to run with --destructive when no job was retried", async () => {
    const check = checks.find((c) => c.id === "listPipelineJobs.includeRetried");
    if (!check) throw new Error("listPipelineJobs.includeRetried is missing");
    const material = {
      project: { given: "1", id: 1, path: undefined },
      jobs: [],
      bridgePipeline: undefined,
      jobTokenJob: undefined,
      claimed: new Set<number>(),
      accessLevel: undefined,
    };
    const reasons: string[] = [];
    for (const destructive of [false, true]) {
      const http = new Http({ baseUrl: served.reference.baseUrl, secrets: [] });
      const ctx = new CheckContext(
        http,
        SpecValidator.load(),
        material,
        { token: "t", jobToken: undefined },
        destructive,
      );
      const skipped = await check.run(ctx).catch((e: unknown) => e);
      expect(skipped).toBeInstanceOf(CheckSkipped);
      reasons.push((skipped as CheckSkipped).message);
    }
    expect(reasons).toEqual([
      "no job of the project was retried (retry one, or run once with --destructive, then run again)",
      "no job of the project was retried yet (this run's retryJob checks retry some: run the suite again)",
    ]);
  });
});
