import { type Database, DEMO_IDS, DEMO_TOKENS, startDemoServer, store } from "@jobs-api/server";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createJobsClient,
  type Job,
  JobsApiError,
  JobsApiNetworkError,
  type JobsClient,
  type JobsClientAuth,
} from "../src/index.js";

// The reference server over real HTTP on 127.0.0.1, on the demo data in an in-memory PGlite database.
let db: Database;
let close: () => Promise<void>;
let baseUrl: string;
const { project: projectId, projectPath, pipeline, bridge, runningJob, manualJob } = DEMO_IDS;

beforeAll(async () => {
  const server = await startDemoServer({ logger: pino({ level: "silent" }) });
  ({ db, api: baseUrl, close } = server);
});

afterAll(async () => {
  await close?.();
});

/** A client of the demo maintainer, or of whoever `auth` names. Tests run in order and share the data. */
const as = (auth: JobsClientAuth = { token: DEMO_TOKENS.maintainer }): JobsClient =>
  createJobsClient({ baseUrl, ...auth });

describe("every operation against the reference server", () => {
  it("listProjectJobs, by path and by id, filtered by scope", async () => {
    const byPath = await as().listProjectJobs({ id: projectPath, scope: ["failed"], per_page: 100 });
    const byId = await as().listProjectJobs({ id: projectId, scope: ["failed"], per_page: 100 });
    // A user's `local_time` is their clock at the time of the read, to the minute: two reads may straddle one.
    const withoutClock = (jobs: Job[]) =>
      jobs.map((job) => ({ ...job, user: { ...job.user, local_time: "" } }));
    expect(withoutClock(byPath)).toEqual(withoutClock(byId));
    expect(byPath.length).toBeGreaterThan(3);
    expect(byPath.every((job) => job.status === "failed")).toBe(true);
    expect(byPath.map((job) => job.id)).toEqual(byPath.map((job) => job.id).sort((a, b) => b - a));
    expect(byPath.map((job) => job.id)).toEqual(expect.arrayContaining([6, 7, 8]));

    const two = await as().listProjectJobs({ id: projectPath, scope: ["manual", "running"], per_page: 100 });
    expect(new Set(two.map((job) => job.status))).toEqual(new Set(["manual", "running"]));
  });

  it("listPipelineJobs and listPipelineBridges", async () => {
    const jobs = await as().listPipelineJobs({ id: projectPath, pipeline_id: pipeline });
    expect(jobs.map((job) => job.id)).toEqual(expect.arrayContaining([6, 7, 8, runningJob, manualJob]));
    expect(jobs.map((job) => job.id)).not.toContain(bridge);

    const bridges = await as().listPipelineBridges({ id: projectId, pipeline_id: pipeline });
    expect(bridges.map((b) => [b.id, b.downstream_pipeline?.id ?? null])).toEqual([
      [DEMO_IDS.createdBridge, null],
      [bridge, DEMO_IDS.downstreamPipeline],
    ]);
  });

  it("getJobTokenJob and getJobTokenAllowedAgents with a CI job token", async () => {
    const ci = as({ jobToken: DEMO_TOKENS.job });
    expect(await ci.getJobTokenJob()).toMatchObject({ id: runningJob, status: "running" });
    const agents = await ci.getJobTokenAllowedAgents();
    expect(agents.job.id).toBe(runningJob);
    expect(agents.allowed_agents.length).toBeGreaterThan(0);
    // Job tokens act in their project, on the routes that take them (jobs.rb: job_token_allowed).
    expect((await ci.listProjectJobs({ id: projectPath })).length).toBeGreaterThan(0);
    await expect(ci.getJob({ id: projectPath, job_id: 7 })).rejects.toMatchObject({ status: 401 });
  });

  it("getJob and getJobTrace, with each kind of token", async () => {
    for (const auth of [{ token: DEMO_TOKENS.reporter }, { oauthToken: DEMO_TOKENS.oauth }]) {
      const job = await as(auth).getJob({ id: projectPath, job_id: 7 });
      expect(job).toMatchObject({
        id: 7,
        name: "teaspoon",
        status: "failed",
        failure_reason: "script_failure",
      });
    }
    expect(await as().getJobTrace({ id: projectPath, job_id: 7 })).toMatch(/ERROR: Job failed: exit code 1/);
    expect(await as().getJobTrace({ id: projectPath, job_id: 8 })).toBe("");
  });

  it("cancelJob, retryJob, eraseJob and playJob change the jobs as GitLab does", async () => {
    const client = as();
    const [pending] = await client.listProjectJobs({ id: projectPath, scope: ["pending"], per_page: 1 });
    expect(pending).toBeDefined();
    const canceled = await client.cancelJob({ id: projectPath, job_id: pending?.id ?? 0 });
    expect(canceled).toMatchObject({ id: pending?.id, status: "canceled" });

    const retried = await client.retryJob({ id: projectPath, job_id: 8 });
    expect(retried).toMatchObject({ name: "rubocop", status: "pending" });
    expect(retried.id).toBeGreaterThan(8);

    const erased = await client.eraseJob({ id: projectPath, job_id: 7 });
    expect(erased).toMatchObject({ id: 7, artifacts: [] });
    expect(await client.getJobTrace({ id: projectPath, job_id: 7 })).toBe("");

    const played = await client.playJob({
      id: projectPath,
      job_id: manualJob,
      body: { job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "production" }] },
    });
    expect(played).toMatchObject({ id: manualJob, status: "pending" });
  });
});

describe("pagination against the reference server", () => {
  it("walks offset pages through Link rel=next, with page metadata", async () => {
    const client = as();
    const all = await client.listProjectJobs({ id: projectPath, per_page: 100 });
    const pages = [];
    for await (const page of client.pages("listProjectJobs", { id: projectPath, per_page: 7 }))
      pages.push(page);
    expect(pages.length).toBe(Math.ceil(all.length / 7));
    expect(pages.flatMap((p) => p.items.map((job) => job.id))).toEqual(all.map((job) => job.id));
    expect(pages.map((p) => p.pagination.page)).toEqual(pages.map((_, i) => i + 1));
    expect(pages[0]?.pagination).toMatchObject({ perPage: 7, prevPage: null, nextPage: 2, total: null });
    expect(pages.at(-1)?.pagination).toMatchObject({
      nextPage: null,
      links: expect.not.objectContaining({ next: expect.anything() }),
    });
  });

  it("keeps filters across pages and reports counts on pipeline lists", async () => {
    const client = as();
    const ids: number[] = [];
    for await (const job of client.paginate("listProjectJobs", {
      id: projectPath,
      scope: ["failed"],
      per_page: 2,
    })) {
      expect(job.status).toBe("failed");
      ids.push(job.id);
    }
    const failed = await client.listProjectJobs({ id: projectPath, scope: ["failed"], per_page: 100 });
    expect(ids).toEqual(failed.map((job) => job.id));

    const page = await client.page("listPipelineJobs", {
      id: projectPath,
      pipeline_id: pipeline,
      per_page: 2,
    });
    expect(page.pagination.total).toBeGreaterThan(2);
    expect(page.pagination.totalPages).toBe(Math.ceil((page.pagination.total ?? 0) / 2));
    expect(page.pagination.links.last).toBeDefined();
  });

  it("follows keyset pagination and stops at maxPages", async () => {
    const client = as();
    const all = await client.listProjectJobs({ id: projectPath, per_page: 100 });
    const keyset = {
      id: projectPath,
      pagination: "keyset",
      order_by: "id",
      sort: "desc",
      per_page: 5,
    } as const;
    const ids: number[] = [];
    for await (const job of client.paginate("listProjectJobs", keyset)) ids.push(job.id);
    expect(ids).toEqual(all.map((job) => job.id));

    const bounded: Job[] = [];
    for await (const job of client.paginate("listProjectJobs", keyset, { maxPages: 2 })) bounded.push(job);
    expect(bounded.map((job) => job.id)).toEqual(ids.slice(0, 10));
  });
});

describe("followJobTrace against the reference server", () => {
  it("yields the log as the running job writes it, and ends when it finishes", async () => {
    const id = projectPath;
    const before = await as().getJobTrace({ id, job_id: runningJob });
    // The "runner": each pause of the client appends to the log; the third finishes the job.
    let polls = 0;
    const sleep = async () => {
      polls++;
      const trace = await store.getTrace(db, runningJob);
      await store.setTrace(db, runningJob, `${trace ?? ""}step ${polls}\n`);
      if (polls === 3)
        await db.query("UPDATE jobs SET status = 'success', finished_at = now() WHERE id = $1", [runningJob]);
    };
    const chunks: string[] = [];
    for await (const text of as().followJobTrace({ id, job_id: runningJob }, { sleep })) chunks.push(text);
    expect(chunks).toEqual([before, "step 1\n", "step 2\n", "step 3\n"]);
    expect(polls).toBe(3);
  });
});

describe("errors from the reference server", () => {
  it("401 for a missing or revoked token, in GitLab's words for each", async () => {
    const cases: [object, string][] = [
      [{}, "401 Unauthorized"],
      [{ token: DEMO_TOKENS.revoked }, "Token was revoked. You have to re-authorize from the user."],
    ];
    for (const [auth, apiMessage] of cases) {
      const error = await as(auth)
        .getJob({ id: projectPath, job_id: 7 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobsApiError);
      expect(error).toMatchObject({ status: 401, apiMessage, operationId: "getJob" });
    }
  });

  it("404 for a project the caller cannot see, and for a job token on project endpoints of another", async () => {
    await expect(
      as({ token: DEMO_TOKENS.outsider }).listProjectJobs({ id: projectPath }),
    ).rejects.toMatchObject({
      status: 404,
      apiMessage: "404 Project Not Found",
      url: `${baseUrl}/projects/foo%2Fbar/jobs`,
    });
    await expect(as().getJobTokenJob()).rejects.toMatchObject({
      status: 404,
      apiMessage: "404 Job Not Found",
    });
  });

  it("403 for a missing role or a job that cannot be retried", async () => {
    await expect(
      as({ token: DEMO_TOKENS.reporter }).retryJob({ id: projectPath, job_id: 6 }),
    ).rejects.toMatchObject({
      status: 403,
      apiMessage: expect.stringMatching(/^403 Forbidden/),
    });
    await expect(as().retryJob({ id: projectPath, job_id: manualJob })).rejects.toMatchObject({
      status: 403,
      apiMessage: "403 Forbidden - Job is not retryable",
      method: "POST",
    });
  });

  it("400 with GitLab's two body shapes", async () => {
    await expect(as().playJob({ id: projectPath, job_id: 6 })).rejects.toMatchObject({
      status: 400,
      body: { message: "400 Bad request - Unplayable Job" },
    });
    await expect(as().listProjectJobs({ id: projectPath, per_page: 0 })).rejects.toMatchObject({
      status: 400,
      body: { error: "per_page has a value not allowed" },
    });
  });

  it("a network error when nothing listens", async () => {
    const idle = await startDemoServer({ db, logger: pino({ level: "silent" }) });
    await idle.close();
    const retried: string[] = [];
    const client = createJobsClient({
      baseUrl: idle.api,
      token: DEMO_TOKENS.maintainer,
      retry: { maxRetries: 2, baseDelayMs: 1, onRetry: ({ error }) => retried.push(error.message) },
    });
    const error = await client.getJob({ id: projectPath, job_id: 7 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobsApiNetworkError);
    expect(error).toMatchObject({ code: "ECONNREFUSED" });
    const { host } = new URL(idle.api);
    expect((error as Error).message).toMatch(`network error: ECONNREFUSED ${host}; tried 3 times`);
    expect(retried).toHaveLength(2);
  });
});

describe("the reference server's rate limit", () => {
  it("paginate completes: each 429 is waited out for its Retry-After", async () => {
    // Two requests a second: a walk of four pages or more runs into the limit.
    const limited = await startDemoServer({
      db,
      logger: pino({ level: "silent" }),
      rateLimit: { limit: 2, windowMs: 1000 },
    });
    try {
      const all = await as().listProjectJobs({ id: projectPath, per_page: 100 });
      const perPage = Math.ceil(all.length / 4);
      const waits: number[] = [];
      const client = createJobsClient({
        baseUrl: limited.api,
        token: DEMO_TOKENS.maintainer,
        retry: {
          onRetry: ({ reason, delayMs }) => {
            if (reason === "rate limit") waits.push(delayMs);
          },
        },
      });
      const ids: number[] = [];
      for await (const job of client.paginate("listProjectJobs", { id: projectPath, per_page: perPage })) {
        ids.push(job.id);
      }
      expect(ids).toEqual(all.map((job) => job.id));
      // Retry-After is in whole seconds: each wait is the rest of the one-second window, rounded up.
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.every((ms) => ms > 0 && ms <= 1000)).toBe(true);
    } finally {
      await limited.close();
    }
  }, 30_000);
});
