import type { AllowedAgents, Bridge, Job, JobTokenJob, OperationId, operations } from "@jobs-api/types";
import { describe, expect, expectTypeOf, it } from "vitest";
import { createJobsClient, type JobsClient } from "../src/index.js";
import { example, fakeFetch, json, specRoutes } from "./fake-fetch.js";

const baseUrl = "https://gitlab.example.com/api/v4";

interface Case {
  operationId: OperationId;
  call: (client: JobsClient) => Promise<unknown>;
  method: string;
  url: string;
  body?: unknown;
  answer: Response;
}

const cases: Case[] = [
  {
    operationId: "listProjectJobs",
    call: (c) => c.listProjectJobs({ id: "group/sub/project", scope: ["failed", "success"], per_page: 50 }),
    method: "GET",
    url: `${baseUrl}/projects/group%2Fsub%2Fproject/jobs?scope[]=failed&scope[]=success&per_page=50`,
    answer: json(example("ProjectJobs")),
  },
  {
    operationId: "listPipelineJobs",
    call: (c) => c.listPipelineJobs({ id: 1, pipeline_id: 6, scope: ["pending"], include_retried: true }),
    method: "GET",
    url: `${baseUrl}/projects/1/pipelines/6/jobs?scope[]=pending&include_retried=true`,
    answer: json(example("PipelineJobs")),
  },
  {
    operationId: "listPipelineBridges",
    call: (c) => c.listPipelineBridges({ id: "foo/bar", pipeline_id: 6, page: 2, per_page: 10 }),
    method: "GET",
    url: `${baseUrl}/projects/foo%2Fbar/pipelines/6/bridges?page=2&per_page=10`,
    answer: json(example("PipelineBridges")),
  },
  {
    operationId: "getJobTokenJob",
    call: (c) => c.getJobTokenJob(),
    method: "GET",
    url: `${baseUrl}/job`,
    answer: json(example("JobTokenJob")),
  },
  {
    operationId: "getJobTokenAllowedAgents",
    call: (c) => c.getJobTokenAllowedAgents(),
    method: "GET",
    url: `${baseUrl}/job/allowed_agents`,
    answer: json(example("JobTokenAllowedAgents")),
  },
  {
    operationId: "getJob",
    // Already encoded by the caller: sent as is, not double-encoded to `%252F`.
    call: (c) => c.getJob({ id: "group%2Fproject", job_id: 8 }),
    method: "GET",
    url: `${baseUrl}/projects/group%2Fproject/jobs/8`,
    answer: json(example("FailedJob")),
  },
  {
    operationId: "getJobTrace",
    call: (c) => c.getJobTrace({ id: 1, job_id: 8 }),
    method: "GET",
    url: `${baseUrl}/projects/1/jobs/8/trace`,
    answer: new Response("Job succeeded\n", { headers: { "Content-Type": "text/plain" } }),
  },
  {
    operationId: "cancelJob",
    call: (c) => c.cancelJob({ id: 1, job_id: 8, force: true }),
    method: "POST",
    url: `${baseUrl}/projects/1/jobs/8/cancel?force=true`,
    answer: json(example("CanceledJob"), { status: 201 }),
  },
  {
    operationId: "retryJob",
    call: (c) => c.retryJob({ id: "my-group/my.project", job_id: 8 }),
    method: "POST",
    url: `${baseUrl}/projects/my-group%2Fmy.project/jobs/8/retry`,
    answer: json(example("RetriedJob"), { status: 201 }),
  },
  {
    operationId: "eraseJob",
    call: (c) => c.eraseJob({ id: 1, job_id: 8 }),
    method: "POST",
    url: `${baseUrl}/projects/1/jobs/8/erase`,
    answer: json(example("ErasedJob"), { status: 201 }),
  },
  {
    operationId: "playJob",
    call: (c) =>
      c.playJob({
        id: 1,
        job_id: 8,
        body: { job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "staging" }] },
      }),
    method: "POST",
    url: `${baseUrl}/projects/1/jobs/8/play`,
    body: { job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "staging" }] },
    answer: json(example("PlayedJob")),
  },
];

describe("every operation", () => {
  it("has a case here, and each method is named after its operationId", () => {
    expect(cases.map((c) => c.operationId).sort()).toEqual(Object.keys(specRoutes).sort());
    const client = createJobsClient({ baseUrl, token: "t" });
    for (const operationId of Object.keys(specRoutes)) expect(client).toHaveProperty(operationId);
  });

  it.each(cases)("$operationId sends $method to the spec's path and resolves to the body", async (c) => {
    const body = await c.answer.clone().text();
    const { fetch, sent } = fakeFetch(() => c.answer);
    const result = await c.call(createJobsClient({ baseUrl, token: "glpat-x", fetch }));

    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.method).toBe(c.method);
    expect(request?.url).toBe(c.url);
    // The spec's path template, filled in, is what went on the wire.
    const template = (specRoutes[c.operationId] ?? "").split(" ")[1] ?? "";
    const pattern = new RegExp(`^${baseUrl}${template.replace(/\{[^}]+\}/g, "[^/?]+")}(\\?|$)`);
    expect(request?.url).toMatch(pattern);
    expect(request?.headers["private-token"]).toBe("glpat-x");
    if (c.body === undefined) {
      expect(request?.body).toBeNull();
      expect(request?.headers["content-type"]).toBeUndefined();
    } else {
      expect(JSON.parse(request?.body ?? "")).toEqual(c.body);
      expect(request?.headers["content-type"]).toBe("application/json");
    }
    expect(result).toEqual(c.operationId === "getJobTrace" ? body : JSON.parse(body));
  });

  it("sends no body when playJob has no variables", async () => {
    const { fetch, sent } = fakeFetch(() => json(example("PlayedJob")));
    await createJobsClient({ baseUrl, fetch }).playJob({ id: 1, job_id: 8 });
    expect(sent[0]?.body).toBeNull();
  });

  it("reads an empty trace (Content-Length: 0) as an empty string", async () => {
    const { fetch } = fakeFetch(() => new Response("", { headers: { "Content-Length": "0" } }));
    await expect(createJobsClient({ baseUrl, fetch }).getJobTrace({ id: 1, job_id: 8 })).resolves.toBe("");
  });

  it("serialises one scope, booleans and numbers, and leaves out undefined and empty arrays", async () => {
    const { fetch, sent } = fakeFetch(() => json([]));
    const client = createJobsClient({ baseUrl, fetch });
    await client.listProjectJobs({ id: 1, scope: ["manual"], page: undefined });
    await client.listProjectJobs({ id: 1, scope: [] });
    await client.listPipelineJobs({ id: 1, pipeline_id: 2, include_retried: false });
    await client.listProjectJobs({
      id: 1,
      pagination: "keyset",
      order_by: "id",
      sort: "asc",
      cursor: "a b&c=",
    });
    expect(sent.map((s) => s.url)).toEqual([
      `${baseUrl}/projects/1/jobs?scope[]=manual`,
      `${baseUrl}/projects/1/jobs`,
      `${baseUrl}/projects/1/pipelines/2/jobs?include_retried=false`,
      `${baseUrl}/projects/1/jobs?pagination=keyset&order_by=id&sort=asc&cursor=a%20b%26c%3D`,
    ]);
  });

  it("encodes unusual project paths and accepts a trailing slash on baseUrl", async () => {
    const { fetch, sent } = fakeFetch(() => json([]));
    await createJobsClient({ baseUrl: `${baseUrl}/`, fetch }).listProjectJobs({ id: "a b/ü/c#d" });
    expect(sent[0]?.url).toBe(`${baseUrl}/projects/a%20b%2F%C3%BC%2Fc%23d/jobs`);
  });
});

describe("authentication", () => {
  const sendOne = async (options: Parameters<typeof createJobsClient>[0]) => {
    const { fetch, sent } = fakeFetch(() => json(example("FailedJob")));
    await createJobsClient({ ...options, fetch }).getJob({ id: 1, job_id: 8 });
    return sent[0]?.headers ?? {};
  };

  it("sends a personal/project token as PRIVATE-TOKEN", async () => {
    const headers = await sendOne({ baseUrl, token: "glpat-1" });
    expect(headers["private-token"]).toBe("glpat-1");
    expect(headers.authorization).toBeUndefined();
    expect(headers["job-token"]).toBeUndefined();
  });

  it("sends an OAuth token as Authorization: Bearer", async () => {
    const headers = await sendOne({ baseUrl, oauthToken: "oauth-1" });
    expect(headers.authorization).toBe("Bearer oauth-1");
    expect(headers["private-token"]).toBeUndefined();
  });

  it("sends a CI job token as JOB-TOKEN", async () => {
    const headers = await sendOne({ baseUrl, jobToken: "job-1" });
    expect(headers["job-token"]).toBe("job-1");
    expect(headers["private-token"]).toBeUndefined();
  });

  it("sends no credentials when given none (public projects)", async () => {
    const headers = await sendOne({ baseUrl });
    expect(Object.keys(headers)).not.toContain("private-token");
    expect(Object.keys(headers)).not.toContain("authorization");
    expect(Object.keys(headers)).not.toContain("job-token");
  });

  it("keeps the caller's headers, but the token's header wins", async () => {
    const headers = await sendOne({
      baseUrl,
      token: "real",
      headers: { "User-Agent": "my-tool/1.0", "PRIVATE-TOKEN": "stale" },
    });
    expect(headers["user-agent"]).toBe("my-tool/1.0");
    expect(headers["private-token"]).toBe("real");
  });

  it("refuses two kinds of token at once", () => {
    const options = { baseUrl, token: "a", jobToken: "b" };
    // @ts-expect-error: the options type allows one kind of token only.
    expect(() => createJobsClient(options)).toThrow(TypeError);
  });
});

describe("types derived from the spec", () => {
  it("types params and results per operation", () => {
    const client = createJobsClient({ baseUrl, token: "t" });
    expectTypeOf(client.listProjectJobs).returns.resolves.toEqualTypeOf<Job[]>();
    expectTypeOf(client.listPipelineBridges).returns.resolves.toEqualTypeOf<Bridge[]>();
    expectTypeOf(client.getJobTokenJob).returns.resolves.toEqualTypeOf<JobTokenJob>();
    expectTypeOf(client.getJobTokenAllowedAgents).returns.resolves.toEqualTypeOf<AllowedAgents>();
    expectTypeOf(client.getJob).returns.resolves.toEqualTypeOf<Job>();
    expectTypeOf(client.getJobTrace).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(client.retryJob).returns.resolves.toEqualTypeOf<Job>();
    expectTypeOf(client.playJob).returns.resolves.toEqualTypeOf<Job | Bridge>();
    expectTypeOf(client.paginate<"listProjectJobs">).returns.toEqualTypeOf<
      AsyncGenerator<Job, void, undefined>
    >();

    // Flat params rely on path and query parameter names never colliding, nor being called `body`.
    type Names<T> = [Exclude<T, undefined>] extends [never] ? never : keyof Exclude<T, undefined>;
    type Collisions = {
      [K in OperationId]: Names<operations[K]["parameters"]["path"]> &
        (Names<operations[K]["parameters"]["query"]> | "body");
    }[OperationId];
    expectTypeOf<Collisions>().toBeNever();

    // Never called: each statement must fail to compile, which `tsc -p tsconfig.tests.json` checks.
    const misuses = (typed: JobsClient) => {
      // @ts-expect-error: job_id is required.
      typed.getJob({ id: 1 });
      // @ts-expect-error: not a job status.
      typed.listProjectJobs({ id: 1, scope: ["broken"] });
      const body = { job_variables_attributes: [{ key: "A" }] };
      // @ts-expect-error: variables need a value.
      typed.playJob({ id: 1, job_id: 2, body });
      // @ts-expect-error: getJob is not a list.
      typed.page("getJob", { id: 1, job_id: 2 });
      // @ts-expect-error: parameters are flat, not openapi-fetch's { params: { path } }.
      typed.getJob({ params: { path: { id: 1, job_id: 2 } } });
    };
    expectTypeOf(misuses).toBeFunction();
  });
});
