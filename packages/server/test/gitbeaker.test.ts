import { GitbeakerRequestError, GitbeakerRetryError, Gitlab, type JobScope, Jobs } from "@gitbeaker/rest";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEMO_IDS,
  DEMO_TOKENS,
  type DemoServer,
  type RateLimitOptions,
  startDemoServer,
} from "../src/index.js";

/**
 * A second GitLab client nobody on this project wrote: gitbeaker (`@gitbeaker/rest` 43.x, the most used
 * TypeScript one) drives the eleven Jobs operations through its own API against fresh demo data, with its
 * pagination (offset and keyset), scope filters, errors and 429 retries. Where gitbeaker does something
 * GitLab's API would not expect, a comment says so; the server answers as GitLab does.
 */

const P = DEMO_IDS.project;
const servers: DemoServer[] = [];

/** A fresh server on fresh demo data, closed after the test. */
async function serve(rateLimit?: RateLimitOptions): Promise<DemoServer> {
  const server = await startDemoServer(rateLimit ? { rateLimit } : {});
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** gitbeaker with a personal token; `host` is the origin, gitbeaker adds `/api/v4`. */
function client(server: DemoServer, token: string = DEMO_TOKENS.maintainer) {
  return new Gitlab({ host: server.origin, token });
}

/** The requests the server logged (URL and status), in order. */
function requests(server: DemoServer): { url: string; status: number }[] {
  return server.logs
    .map((line) => JSON.parse(line) as { req?: { url: string }; res?: { statusCode: number } })
    .filter((entry) => entry.req && entry.res)
    .map((entry) => ({
      url: entry.req?.url ?? "",
      status: entry.res?.statusCode ?? 0,
    }));
}

/** The GitbeakerRequestError a call rejects with: its message, status and the server's answer. */
async function requestError(call: Promise<unknown>) {
  const error = await call.then(
    (value) => expect.fail(`expected a GitbeakerRequestError, got ${JSON.stringify(value).slice(0, 200)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitbeakerRequestError);
  const cause = (error as GitbeakerRequestError).cause;
  return {
    message: (error as Error).message,
    description: cause?.description,
    status: cause?.response.status,
  };
}

const ids = (jobs: { id: number }[]) => jobs.map((j) => j.id);

describe("gitbeaker (@gitbeaker/rest 43) against the server", () => {
  it("Jobs.all follows every offset page (Link rel=next), in descending id order, builds only", async () => {
    const server = await serve();
    const api = client(server);
    const all = await api.Jobs.all(P, { perPage: 3 });
    expect(ids(all)).toEqual([...ids(all)].sort((a, b) => b - a));
    expect(new Set(ids(all)).size).toBe(all.length);
    expect(ids(all)).toEqual(expect.arrayContaining([6, 7, 8, DEMO_IDS.runningJob, DEMO_IDS.manualJob]));
    expect(ids(all)).not.toContain(DEMO_IDS.bridge);
    const pages = requests(server).filter((r) => r.url.startsWith(`/api/v4/projects/${P}/jobs?`));
    expect(pages).toHaveLength(Math.ceil(all.length / 3));
    // gitbeaker rebuilds each next request from the Link URL's query (camelized, then decamelized again).
    expect(pages[1]?.url).toMatch(/[?&]page=2(&|$)/);
    expect(pages[1]?.url).toMatch(/[?&]per_page=3(&|$)/);
  });

  it("Jobs.all with maxPages stops early; showExpanded gives the offset paginationInfo", async () => {
    const server = await serve();
    const api = client(server);
    const capped = await api.Jobs.all(P, { perPage: 2, maxPages: 2 });
    expect(capped).toHaveLength(4);
    // `pagination: "offset"` is sent as is; GitLab reads only `keyset` there, anything else is offset.
    const offset = await api.Jobs.all(P, { pagination: "offset", perPage: 2, maxPages: 2 });
    expect(ids(offset)).toEqual(ids(capped));

    const one = await api.Jobs.all(P, { page: 2, perPage: 2, showExpanded: true });
    expect(one.data).toHaveLength(2);
    expect(one.paginationInfo).toMatchObject({ current: 2, previous: 1, next: 3, perPage: 2 });
    // GitLab's listProjectJobs paginates without counting (`paginator_params: { without_count: true }`),
    // so there is no X-Total / X-Total-Pages: gitbeaker's parseInt of the missing headers gives NaN.
    expect(one.paginationInfo.total).toBeNaN();
    expect(one.paginationInfo.totalPages).toBeNaN();

    // Pipeline jobs are counted: X-Total and X-Total-Pages are there.
    const pipeline = await api.Jobs.all(P, { pipelineId: DEMO_IDS.pipeline, perPage: 2, showExpanded: true });
    expect(ids(pipeline.data)).toEqual([11, 10, 8, 7, 6]);
    expect(pipeline.paginationInfo).toMatchObject({
      total: 5,
      totalPages: 3,
      current: 3,
      next: null,
      perPage: 2,
    });
  });

  it("Jobs.all with pagination 'keyset' follows the cursor Links to the same jobs", async () => {
    const server = await serve();
    const api = client(server);
    const offset = await api.Jobs.all(P);
    const keyset = await api.Jobs.all(P, { pagination: "keyset", perPage: 4, showExpanded: true });
    expect(ids(keyset.data)).toEqual(ids(offset));
    expect(keyset.paginationInfo).toMatchObject({ idAfter: null, perPage: 4 });
    const pages = requests(server).filter((r) => r.url.includes("pagination=keyset"));
    expect(pages).toHaveLength(Math.ceil(offset.length / 4));
    expect(pages.slice(1).every((r) => /[?&]cursor=/.test(r.url))).toBe(true);

    const capped = await api.Jobs.all(P, { pagination: "keyset", perPage: 2, maxPages: 2 });
    expect(ids(capped)).toEqual(ids(offset).slice(0, 4));

    // Keyset is only for `id` descending on Ci::Build: GitLab answers 405, gitbeaker surfaces its `error`.
    const refused = await requestError(api.Jobs.all(P, { pagination: "keyset", orderBy: "id", sort: "asc" }));
    expect(refused).toEqual({
      message: "Keyset pagination is not yet available for this type of request",
      description: "Keyset pagination is not yet available for this type of request",
      status: 405,
    });
  });

  it("scope filters: one value is sent as scope=, several as scope[]=, both read as GitLab does", async () => {
    const server = await serve();
    const api = client(server);
    const all = await api.Jobs.all(P);
    const failed = await api.Jobs.all(P, { scope: "failed" });
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((j) => j.status === "failed")).toBe(true);
    expect(ids(failed)).toEqual(ids(all.filter((j) => j.status === "failed")));

    // gitbeaker types `scope` as one JobScope, but its query string (qs, arrayFormat "brackets") sends an
    // array as GitLab's `scope[]`, which jobs.rb declares (`Array[String]`): the cast only widens the type.
    const several = ["failed", "success"] as unknown as JobScope;
    const both = await api.Jobs.all(P, { scope: several, perPage: 3 });
    expect(ids(both)).toEqual(ids(all.filter((j) => j.status === "failed" || j.status === "success")));

    const sent = requests(server)
      .map((r) => r.url)
      .filter((u) => u.includes("scope"));
    expect(sent[0]).toBe(`/api/v4/projects/${P}/jobs?scope=failed`);
    expect(sent[1]).toBe(`/api/v4/projects/${P}/jobs?scope%5B%5D=failed&scope%5B%5D=success&per_page=3`);
    // The next pages keep both values: the Link carries scope[] and gitbeaker sends it back as scope[].
    expect(sent.length).toBeGreaterThan(2);
    expect(sent.slice(2).every((u) => u.includes("scope%5B%5D=failed&scope%5B%5D=success"))).toBe(true);

    const manual = await api.Jobs.all(P, { pipelineId: DEMO_IDS.pipeline, scope: "manual" });
    expect(ids(manual)).toEqual([DEMO_IDS.manualJob]);
    const bridges = await api.Jobs.allPipelineBridges(P, DEMO_IDS.pipeline, { scope: "success" });
    expect(bridges.every((b) => b.status === "success")).toBe(true);

    const invalid = await requestError(api.Jobs.all(P, { scope: "unknown" as JobScope }));
    expect(invalid).toMatchObject({ status: 400, description: "scope does not have a valid value" });
  });

  it("pipeline jobs (includeRetried) and bridges", async () => {
    const server = await serve();
    const api = client(server);
    const latest = await api.Jobs.all(P, { pipelineId: 7 });
    const every = await api.Jobs.all(P, { pipelineId: 7, includeRetried: true });
    expect(ids(latest)).not.toContain(19);
    expect(ids(latest)).toContain(20);
    expect(new Set(ids(every))).toEqual(new Set([...ids(latest), 19]));
    // gitbeaker sends the boolean as `include_retried=true`.
    expect(requests(server).some((r) => r.url.endsWith("/pipelines/7/jobs?include_retried=true"))).toBe(true);

    const bridges = await api.Jobs.allPipelineBridges(P, DEMO_IDS.pipeline);
    expect(ids(bridges).sort()).toEqual([DEMO_IDS.bridge, DEMO_IDS.createdBridge].sort());
    const bridge = bridges.find((b) => b.id === DEMO_IDS.bridge);
    expect(bridge?.downstream_pipeline.id).toBe(DEMO_IDS.downstreamPipeline);
    expect(bridges.find((b) => b.id === DEMO_IDS.createdBridge)?.downstream_pipeline).toBeNull();
  });

  it("Jobs.show, by id and by project path, and Jobs.showLog", async () => {
    const server = await serve();
    const api = client(server);
    const job = await api.Jobs.show(P, 7);
    expect(job).toMatchObject({
      id: 7,
      name: "teaspoon",
      status: "failed",
      pipeline: { id: DEMO_IDS.pipeline },
    });
    expect(job.artifacts_file.filename).toBe("artifacts.zip");
    // gitbeaker encodes the path as one segment: foo%2Fbar.
    const byPath = await api.Jobs.show(DEMO_IDS.projectPath, 8);
    expect(byPath).toMatchObject({ id: 8, name: "rubocop" });
    expect(requests(server).some((r) => r.url === "/api/v4/projects/foo%2Fbar/jobs/8")).toBe(true);

    const expanded = await api.Jobs.show(P, 8, { showExpanded: true });
    expect(expanded.status).toBe(200);
    expect(expanded.data.id).toBe(8);

    // A text/plain answer: gitbeaker hands back the log as a string.
    const log = await api.Jobs.showLog(P, 7);
    expect(typeof log).toBe("string");
    expect(log).toMatch(/^Running with gitlab-runner/);
    expect(log).toContain("ERROR: Job failed");
  });

  it("surfaces 404 and 401 as GitbeakerRequestError with GitLab's message", async () => {
    const server = await serve();
    const missing = await requestError(client(server).Jobs.show(P, 999_999));
    expect(missing).toEqual({ message: "404 Not found", description: "404 Not found", status: 404 });
    const hidden = await requestError(client(server).Jobs.all(DEMO_IDS.privateProject));
    expect(hidden).toEqual({
      message: "404 Project Not Found",
      description: "404 Project Not Found",
      status: 404,
    });
    // GitLab's 401 body is {"message":"401 Unauthorized"}: gitbeaker takes `error`, else `message`.
    const unknown = await requestError(client(server, "glpat-not-a-token").Jobs.all(P));
    expect(unknown).toEqual({ message: "401 Unauthorized", description: "401 Unauthorized", status: 401 });
    const expired = await requestError(client(server, DEMO_TOKENS.expired).Jobs.show(P, 8));
    expect(expired.status).toBe(401);
    const guest = await requestError(client(server, DEMO_TOKENS.guest).Jobs.all(P));
    expect(guest).toMatchObject({ status: 403, description: "403 Forbidden" });
  });

  it("the job token: Jobs.showConnectedJob and showConnectedJobK8Agents (allowed_agents)", async () => {
    const server = await serve();
    const withJobToken = new Gitlab({ host: server.origin, jobToken: DEMO_TOKENS.job });
    // gitbeaker quirk (43.8.0): these two check `this.headers["job-token"]`, but the `jobToken` option
    // goes into the auth headers, so they throw before any request whatever token was given.
    expect(() => withJobToken.Jobs.showConnectedJob()).toThrow('Missing required header "job-token"');
    expect(requests(server)).toHaveLength(0);

    // Workaround: a Jobs resource whose headers carry the job token (sent as JOB-TOKEN, as GitLab wants).
    const jobs = new Jobs({ host: server.origin, jobToken: DEMO_TOKENS.job });
    jobs.headers["job-token"] = DEMO_TOKENS.job;
    const job = await jobs.showConnectedJob();
    expect(job).toMatchObject({ id: DEMO_IDS.runningJob, name: "deploy:review", status: "running" });
    const agents = await jobs.showConnectedJobK8Agents();
    expect(agents.allowed_agents.map((a) => a.id).sort()).toEqual([1, 2]);
    expect(agents).toMatchObject({
      job: { id: DEMO_IDS.runningJob },
      pipeline: { id: 6 },
      project: { id: P },
    });

    const finished = new Jobs({ host: server.origin, jobToken: DEMO_TOKENS.finishedJob });
    finished.headers["job-token"] = DEMO_TOKENS.finishedJob;
    expect(await requestError(finished.showConnectedJob())).toMatchObject({ status: 401 });

    // Canceling job 10 ends its token.
    const canceled = await client(server).Jobs.cancel(P, DEMO_IDS.runningJob);
    expect(canceled).toMatchObject({ id: DEMO_IDS.runningJob, status: "canceled" });
    expect(canceled.finished_at).toBeTruthy();
    expect(await requestError(jobs.showConnectedJob())).toMatchObject({ status: 401 });
  });

  it("Jobs.cancel, retry, play and erase, with GitLab's refusals", async () => {
    const server = await serve();
    const api = client(server);

    // A finished job: cancel answers it unchanged.
    const unchanged = await api.Jobs.cancel(P, 8, { showExpanded: true });
    expect(unchanged.status).toBe(201);
    expect(unchanged.data).toMatchObject({ id: 8, status: "failed" });

    const retried = await api.Jobs.retry(P, 7, { showExpanded: true });
    expect(retried.status).toBe(201);
    expect(retried.data).toMatchObject({ name: "teaspoon", status: "pending", pipeline: { id: 6 } });
    expect(retried.data.id).not.toBe(7);
    expect(await requestError(api.Jobs.retry(P, 7))).toMatchObject({
      status: 403,
      description: "403 Forbidden - Job is not retryable",
    });

    // gitbeaker posts its options as a JSON body: job_variables_attributes, decamelized.
    const played = await api.Jobs.play(P, DEMO_IDS.manualJob, {
      jobVariablesAttributes: [{ key: "DEPLOY_TO", value: "review" }],
      showExpanded: true,
    });
    // GitLab's play sets `status 200` where the other actions answer Grape's POST default, 201.
    expect(played.status).toBe(200);
    expect(played.data).toMatchObject({ id: DEMO_IDS.manualJob, status: "pending" });
    expect(await requestError(api.Jobs.play(P, 8))).toMatchObject({
      status: 400,
      description: "400 Bad request - Unplayable Job",
    });

    const erased = await api.Jobs.erase(P, 7, { showExpanded: true });
    expect(erased.status).toBe(201);
    expect(erased.data.id).toBe(7);
    expect(erased.data.erased_at).toBeTruthy();
    expect(erased.data.artifacts).toEqual([]);
    // An empty log: gitbeaker hands back "".
    expect(await api.Jobs.showLog(P, 7)).toBe("");
    expect(await requestError(api.Jobs.erase(P, 6))).toMatchObject({
      status: 403,
      description: "403 Forbidden - Job is not erasable!",
    });
  });

  it("retries a 429 until the server's window lets it through, and gives up on a long window", async () => {
    // A window far shorter than gitbeaker's retries (10 attempts, backoff 2^i * 0.25 ms: about 0.26 s).
    const short = await serve({ limit: 2, windowMs: 50 });
    const all = await client(short).Jobs.all(P, { perPage: 2 });
    expect(all.length).toBeGreaterThan(6);
    const codes = requests(short).map((r) => r.status);
    expect(codes).toContain(429);
    expect(codes.filter((c) => c === 200)).toHaveLength(Math.ceil(all.length / 2));

    // gitbeaker quirk: it ignores Retry-After (seconds, here up to 60) and retries 429 by its own backoff,
    // so against GitLab's one-minute throttle windows it gives up with GitbeakerRetryError after 10 tries.
    const long = await serve({ limit: 1, windowMs: 60_000 });
    const api = client(long);
    await api.Jobs.show(P, 8);
    const error = await api.Jobs.show(P, 8).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitbeakerRetryError);
    expect((error as Error).message).toContain("last status code: 429");
    expect(requests(long).map((r) => r.status)).toEqual([200, ...Array(10).fill(429)]);
  });

  it("queues requests beyond its own client-side quota (rateLimits per rateLimitDuration) instead of sending them", async () => {
    const server = await serve();
    const polite = new Gitlab({
      host: server.origin,
      token: DEMO_TOKENS.maintainer,
      rateLimits: { "projects/*/jobs/*": 2 },
      rateLimitDuration: 60,
    });
    // gitbeaker's queue (rate-limiter-flexible) waits on setTimeout and Date: faked, the minute passes at once.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const shows = [6, 7, 8].map((id) => polite.Jobs.show(P, id));
      let thirdSettled = false;
      void shows[2]?.finally(() => {
        thirdSettled = true;
      });
      expect(ids(await Promise.all(shows.slice(0, 2)))).toEqual([6, 7]);
      expect(requests(server).map((r) => r.url)).toEqual([
        `/api/v4/projects/${P}/jobs/6`,
        `/api/v4/projects/${P}/jobs/7`,
      ]);
      expect(thirdSettled).toBe(false);
      await vi.advanceTimersByTimeAsync(60_000);
      expect((await shows[2])?.id).toBe(8);
      expect(requests(server).map((r) => r.status)).toEqual([200, 200, 200]);
    } finally {
      vi.useRealTimers();
    }
  });
});
