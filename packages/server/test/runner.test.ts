import { describe, expect, it } from "vitest";
import {
  checkFixtures,
  createApp,
  DEMO_IDS,
  DEMO_TOKENS,
  type Double,
  FixtureError,
  type Fixtures,
  listen,
  startDemoServer,
  startDouble,
} from "../src/index.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { buildServer, startCli } from "./helpers/process.js";
import { checkExchange, type Exchange } from "./helpers/spec.js";

/**
 * The runner protocol end to end (a job from pending to success as a runner drives it, seen through the
 * Jobs API), the fixture fields it needs (runner tokens, tags, job scripts), and the admin reset.
 */

const world: Fixtures = {
  version: 1,
  users: [{ username: "alice", tokens: [{ token: "glpat-alice", name: "alice" }] }],
  runners: [
    { name: "linux", token: "glrt-linux", tags: ["linux"], managers: [{ systemId: "s_linux" }] },
    { name: "paused", token: "glrt-paused", paused: true },
  ],
  projects: [
    {
      path: "acme/app",
      members: [{ user: "alice", role: "maintainer" }],
      pipelines: [
        {
          id: 7,
          ref: "main",
          status: "pending",
          jobs: [
            {
              id: 70,
              name: "build",
              status: "pending",
              user: "alice",
              tags: ["linux"],
              queuedAt: "-2m",
              script: ["make", "make test"],
            },
          ],
        },
      ],
    },
  ],
};

/** Every answer of the flow, checked against the spec (`@jobs-api/types/validate`) as it comes. */
function client(double: Double) {
  const agent = keepAliveAgent();
  const origin = new URL(double.baseUrl).origin;
  const exchanges: Exchange[] = [];
  const send = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const ex = await sendRaw(
      origin,
      { method, target: `/api/v4${path}`, headers, ...(body === undefined ? {} : { body }) },
      agent,
    );
    exchanges.push(ex);
    return {
      ...ex,
      json: ex.headers["content-type"] === "application/json" && ex.body ? JSON.parse(ex.body) : undefined,
    };
  };
  const asAlice = (path: string) => send("GET", path, { "PRIVATE-TOKEN": "glpat-alice" });
  return {
    send,
    asAlice,
    problems: () =>
      exchanges.flatMap((ex) => checkExchange(ex).map((p) => `${ex.method} ${ex.target}: ${p}`)),
    close: () => agent.destroy(),
  };
}

describe("a job through the runner protocol", () => {
  it("pending → running → log appended → success, as getJob, getJobTrace and /job see it", async () => {
    const double = await startDouble({ fixtures: world });
    const c = client(double);
    try {
      const json = { "Content-Type": "application/json" };
      const picked = await c.send(
        "POST",
        "/jobs/request",
        json,
        JSON.stringify({ token: "glrt-linux", system_id: "s_linux" }),
      );
      expect(picked.status).toBe(201);
      const token = picked.json.token as string;
      expect(picked.json.steps[0].script).toEqual(["make", "make test"]);

      const running = await c.asAlice("/projects/acme%2Fapp/jobs/70");
      expect(running.json).toMatchObject({
        status: "running",
        runner: { name: "linux" },
        runner_manager: { system_id: "s_linux" },
        duration: expect.any(Number),
      });
      expect(running.json.queued_duration).toBeGreaterThanOrEqual(120);
      expect((await c.asAlice("/projects/acme%2Fapp/pipelines/7/jobs")).json[0].status).toBe("running");
      // The job token the runner got acts as CI_JOB_TOKEN while the job runs.
      expect((await c.send("GET", "/job", { "JOB-TOKEN": token })).json.id).toBe(70);

      const trace = (start: number, text: string) =>
        c.send(
          "PATCH",
          "/jobs/70/trace",
          { "JOB-TOKEN": token, "Content-Range": `${start}-${start + text.length - 1}` },
          text,
        );
      expect((await trace(0, "$ make\n")).headers.range).toBe("0-7");
      expect((await c.asAlice("/projects/acme%2Fapp/jobs/70/trace")).body).toBe("$ make\n");
      expect((await trace(7, "$ make test\nok\n")).status).toBe(202);
      expect(
        (await c.send("PUT", "/jobs/70", json, JSON.stringify({ token, state: "running" }))).status,
      ).toBe(200);

      const done = await c.send(
        "PUT",
        "/jobs/70",
        json,
        JSON.stringify({ token, state: "success", exit_code: 0 }),
      );
      expect(done.status).toBe(200);
      expect(done.headers["job-status"]).toBe("success");
      const finished = await c.asAlice("/projects/acme%2Fapp/jobs/70");
      expect(finished.json).toMatchObject({ status: "success", finished_at: expect.any(String) });
      expect(finished.json.duration).toBeGreaterThanOrEqual(0);
      expect((await c.asAlice("/projects/acme%2Fapp/jobs/70/trace")).body).toBe("$ make\n$ make test\nok\n");
      expect((await c.asAlice("/projects/acme%2Fapp/pipelines/7/jobs")).json[0].status).toBe("success");
      // The token ends with the job.
      expect((await c.send("GET", "/job", { "JOB-TOKEN": token })).status).toBe(401);
      expect((await trace(22, "late")).status).toBe(403);
      expect(c.problems()).toEqual([]);
    } finally {
      c.close();
      await double.close();
    }
  });

  it("sends CI_PROJECT_DESCRIPTION as GitLab does: the project's description, null without one", async () => {
    // app/models/project.rb `predefined_project_variables` appends `value: description`, and
    // lib/gitlab/ci/variables/collection/item.rb:13-15 (0a412bce) accepts a nil value.
    for (const description of [undefined, "The app."]) {
      const [project] = world.projects ?? [];
      const double = await startDouble({
        fixtures: { ...world, projects: [{ ...project, path: "acme/app", description }] },
      });
      const c = client(double);
      try {
        const picked = await c.send(
          "POST",
          "/jobs/request",
          { "Content-Type": "application/json" },
          JSON.stringify({ token: "glrt-linux", system_id: "s_linux" }),
        );
        expect(picked.status).toBe(201);
        expect(picked.json.variables).toContainEqual({
          key: "CI_PROJECT_DESCRIPTION",
          value: description ?? null,
          public: true,
          masked: false,
        });
        expect(c.problems()).toEqual([]);
      } finally {
        c.close();
        await double.close();
      }
    }
  });

  // build.rb `variables` concatenates `job_variables`; each becomes an Item from `to_hash_variable`
  // (has_variable.rb:54-56 `public: false, file: file?`, raw_variable.rb:13-15 `raw: raw?`, 7e202c4f), and
  // variables/collection/item.rb:55-59 (0a412bce) `to_runner_variable` keeps `masked: false` but drops `file`
  // and `raw` when false.
  it("sends a played job's variables with file and raw only when true, as Collection::Item does (item.rb:55-59)", async () => {
    const [project] = world.projects ?? [];
    const double = await startDouble({
      fixtures: {
        ...world,
        projects: [
          {
            ...project,
            path: "acme/app",
            pipelines: [
              {
                id: 8,
                ref: "main",
                status: "manual",
                jobs: [
                  {
                    id: 80,
                    name: "deploy",
                    status: "manual",
                    when: "manual",
                    tags: ["linux"],
                    script: ["ls"],
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    const c = client(double);
    try {
      const json = { "Content-Type": "application/json" };
      const played = await c.send(
        "POST",
        "/projects/acme%2Fapp/jobs/80/play",
        { ...json, "PRIVATE-TOKEN": "glpat-alice" },
        JSON.stringify({
          job_variables_attributes: [
            { key: "CONFIG", value: "a: $B", variable_type: "file", raw: true },
            { key: "PLAIN", value: "p" },
          ],
        }),
      );
      expect(played.status).toBe(200);
      const picked = await c.send("POST", "/jobs/request", json, JSON.stringify({ token: "glrt-linux" }));
      expect(picked.status).toBe(201);
      const own = (picked.json.variables as { key: string }[]).filter((v) =>
        ["CONFIG", "PLAIN"].includes(v.key),
      );
      expect(own).toEqual([
        { key: "CONFIG", value: "a: $B", public: false, masked: false, file: true, raw: true },
        { key: "PLAIN", value: "p", public: false, masked: false },
      ]);
      expect(c.problems()).toEqual([]);
    } finally {
      c.close();
      await double.close();
    }
  });

  it("a failed job keeps the runner's failure reason", async () => {
    const double = await startDouble({ fixtures: world });
    const c = client(double);
    try {
      const json = { "Content-Type": "application/json" };
      const picked = await c.send("POST", "/jobs/request", json, JSON.stringify({ token: "glrt-linux" }));
      const token = picked.json.token as string;
      await c.send(
        "PUT",
        "/jobs/70",
        json,
        JSON.stringify({ token, state: "failed", failure_reason: "script_failure", exit_code: 1 }),
      );
      expect((await c.asAlice("/projects/acme%2Fapp/jobs/70")).json).toMatchObject({
        status: "failed",
        failure_reason: "script_failure",
        runner_manager: null,
      });
      expect(c.problems()).toEqual([]);
    } finally {
      c.close();
      await double.close();
    }
  });

  it("a paused runner gets nothing, and a runner without the job's tags neither", async () => {
    const double = await startDouble({ fixtures: world });
    const c = client(double);
    try {
      const json = { "Content-Type": "application/json" };
      const paused = await c.send("POST", "/jobs/request", json, JSON.stringify({ token: "glrt-paused" }));
      expect(paused.status).toBe(204);
      expect(paused.headers["x-gitlab-last-update"]).toMatch(/^[0-9a-f]{32}$/);
      await double.db.query("UPDATE runners SET paused = false WHERE token_digest IS NOT NULL");
      expect(
        (await c.send("POST", "/jobs/request", json, JSON.stringify({ token: "glrt-paused" }))).status,
      ).toBe(204);
      expect(c.problems()).toEqual([]);
    } finally {
      c.close();
      await double.close();
    }
  });
});

describe("the demo runner", () => {
  it("picks the demo's pending builds in order, with their scripts, then has none", async () => {
    const server = await startDemoServer();
    try {
      const ask = () =>
        fetch(`${server.api}/jobs/request`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ token: DEMO_TOKENS.runner }),
        });
      for (const id of DEMO_IDS.pendingJobs) {
        const res = await ask();
        expect(res.status).toBe(201);
        const job = (await res.json()) as { id: number; steps: { script: string[] }[] };
        expect(job.id).toBe(id);
        expect(job.steps[0]?.script.length).toBeGreaterThan(0);
      }
      expect((await ask()).status).toBe(204);
    } finally {
      await server.close();
    }
  });
});

describe("fixtures for runners", () => {
  it("store a runner's token as its digest, with its tags, untagged and paused settings, and a job's script", async () => {
    const double = await startDouble({
      fixtures: {
        ...world,
        runners: [...(world.runners ?? []), { name: "tagged-only", token: "glrt-t", runUntagged: false }],
      },
    });
    try {
      const runners = await double.db.query<{
        name: string;
        digest: boolean;
        tag_list: string[];
        run_untagged: boolean;
        paused: boolean;
      }>(
        "SELECT name, token_digest IS NOT NULL AS digest, tag_list, run_untagged, paused FROM runners ORDER BY id",
      );
      expect(runners).toEqual([
        { name: "linux", digest: true, tag_list: ["linux"], run_untagged: true, paused: false },
        { name: "paused", digest: true, tag_list: [], run_untagged: true, paused: true },
        { name: "tagged-only", digest: true, tag_list: [], run_untagged: false, paused: false },
      ]);
      const [job] = await double.db.query<{ script: string[] }>("SELECT script FROM jobs WHERE id = 70");
      expect(job?.script).toEqual(["make", "make test"]);
    } finally {
      await double.close();
    }
  });

  it("refuse a runner token used twice and a script on a bridge, at their places", () => {
    const bad: Fixtures = {
      runners: [
        { name: "a", token: "glrt-same" },
        { name: "b", token: "glrt-same" },
      ],
      projects: [
        {
          path: "g/p",
          pipelines: [{ jobs: [{ name: "trigger", status: "created", type: "bridge", script: ["echo"] }] }],
        },
      ],
    };
    expect(() => checkFixtures(bad)).toThrow(FixtureError);
    try {
      checkFixtures(bad);
    } catch (error) {
      const problems = (error as FixtureError).problems.join("\n");
      expect(problems).toContain("runners[1].token");
      expect(problems).toContain("projects[0].pipelines[0].jobs[0].script");
    }
  });

  it("refuse a token with blanks and a script that is not a list of lines (the schema)", () => {
    expect(() => checkFixtures({ runners: [{ name: "a", token: "glrt with blanks" }] })).toThrow(
      /runners\[0\]\.token/,
    );
    expect(() =>
      checkFixtures({
        projects: [
          { path: "g/p", pipelines: [{ jobs: [{ name: "j", status: "pending", script: "make" }] }] },
        ],
      }),
    ).toThrow(/script/);
  });
});

describe("POST /-/reset", () => {
  async function serve(admin: boolean) {
    const double = await startDouble({ fixtures: world });
    const app = createApp({
      db: double.db,
      ...(admin ? { admin: { token: "s3cret-admin", reset: () => double.reset() } } : {}),
    });
    const running = await listen(app, { port: 0, host: "127.0.0.1" });
    return {
      origin: running.url,
      db: double.db,
      async close() {
        await running.close();
        await double.close();
      },
    };
  }
  const reset = (origin: string, headers: Record<string, string> = {}) =>
    fetch(`${origin}/-/reset`, { method: "POST", headers });
  const status70 = async (db: Double["db"]) =>
    (await db.query<{ status: string }>("SELECT status FROM jobs WHERE id = 70"))[0]?.status;

  it("restores the fixtures for the admin token, after a runner changed them", async () => {
    const s = await serve(true);
    try {
      const picked = await fetch(`${s.origin}/api/v4/jobs/request`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: "glrt-linux" }),
      });
      expect(picked.status).toBe(201);
      expect(await status70(s.db)).toBe("running");
      const res = await reset(s.origin, { Authorization: "Bearer s3cret-admin" });
      expect(res.status).toBe(204);
      expect(await status70(s.db)).toBe("pending");
      const again = await fetch(`${s.origin}/api/v4/jobs/request`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: "glrt-linux" }),
      });
      expect(((await again.json()) as { id: number }).id).toBe(70);
    } finally {
      await s.close();
    }
  });

  it("answers 401 without the admin token or with another one, and changes nothing", async () => {
    const s = await serve(true);
    try {
      await s.db.query("UPDATE jobs SET status = 'canceled' WHERE id = 70");
      for (const headers of [
        {} as Record<string, string>,
        { Authorization: "Bearer wrong" },
        { "PRIVATE-TOKEN": "s3cret-admin" },
        // Base64 of `admin:s3cret-admin`: a Basic header whose decoded credentials are not UTF-8 would be
        // refused earlier, by HandleMalformedStrings (400).
        { Authorization: "Basic YWRtaW46czNjcmV0LWFkbWlu" },
      ]) {
        const res = await reset(s.origin, headers);
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ message: "401 Unauthorized" });
      }
      expect(await status70(s.db)).toBe("canceled");
    } finally {
      await s.close();
    }
  });

  it("does not exist unless the server has an admin token (404, like any unknown path)", async () => {
    const s = await serve(false);
    try {
      const res = await reset(s.origin, { Authorization: "Bearer s3cret-admin" });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "404 Not Found" });
    } finally {
      await s.close();
    }
  });

  it("jobs-api-server --admin-token / JOBS_API_ADMIN_TOKEN: back to the demo data; a blank token exits 2", async () => {
    buildServer();
    const cli = await startCli(["--data-dir", "memory://"], { JOBS_API_ADMIN_TOKEN: "cli-admin" });
    try {
      const running = `${cli.origin}/api/v4/projects/${DEMO_IDS.project}/jobs/${DEMO_IDS.runningJob}`;
      const cancel = await fetch(`${running}/cancel`, {
        method: "POST",
        headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer },
      });
      expect(((await cancel.json()) as { status: string }).status).toBe("canceled");
      expect((await reset(cli.origin, { Authorization: "Bearer wrong" })).status).toBe(401);
      expect((await reset(cli.origin, { Authorization: "Bearer cli-admin" })).status).toBe(204);
      const job = await fetch(running, { headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer } });
      expect(((await job.json()) as { status: string }).status).toBe("running");
      await cli.waitForLine("reset the data to its start");
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
    const { spawnSync } = await import("node:child_process");
    const { cliPath } = await import("./helpers/process.js");
    const blank = spawnSync(process.execPath, [cliPath, "--port", "0", "--admin-token", ""], {
      encoding: "utf8",
    });
    expect(blank.status).toBe(2);
    expect(blank.stderr).toBe(
      "jobs-api-server: invalid admin token: empty or with blanks (--admin-token or JOBS_API_ADMIN_TOKEN)\n",
    );
  });
});
