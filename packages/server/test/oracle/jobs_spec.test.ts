// Oracle: GitLab's spec/requests/api/ci/jobs_spec.rb (gitlabhq 0024c2f4), context by context, against the
// reference server. Each test builds its own project; the facts asserted are GitLab's.
//
// Skipped contexts (features the server does not model):
// - GET /projects/:id/jobs › authorized user › avoids N+1 queries: a query count, not an HTTP behaviour.
// - GET …/trace › authorized user › when log is in ObjectStorage: no object storage; the stored log is one case.
// - GET …/trace › when ci_debug_trace is set to true (4 rows): no instance CI variables, debug mode or
//   public_builds setting.
// - GET /job/allowed_agents › when deployment › includes environment slug: no environments or deployments.
// Skipped assertions, within covered contexts:
// - GET /job/allowed_agents › `project.groups`: no groups; the group authorization of GitLab's spec becomes
//   an agent of another project of the same namespace shared with this one, whose `configuration` value is
//   not modelled (only the key is checked).
// - GET /projects/:id/jobs › `include_pagination_headers` in this spec version: GitLab's jobs.rb now pages
//   this list `without_count`, so the limited set (no X-Total, X-Total-Pages) is asserted.

import { describe, expect, it } from "vitest";
import { type Database, type DemoServer, store } from "../../src/index.js";
import { serveForFile } from "../helpers/server.js";
import {
  type Answer,
  ARTIFACTS_AND_TRACE,
  addArtifactsAndTrace,
  addTraceRecordWithoutFile,
  expectArtifactsAndTrace,
  expectHeaders,
  expectLikeTime,
  FINISHED,
  FORBIDDEN,
  IN_A_DAY,
  INVALID_SCOPE,
  JOB_NOT_FOUND,
  json,
  LIMITED_PAGINATION_HEADERS,
  list,
  type OracleProject,
  oracleProject,
  PROJECT_NOT_FOUND,
  person,
  STARTED,
  UNAUTHORIZED,
  userRequests,
} from "./world.js";

let db: Database;
let server: DemoServer;
serveForFile((d, s) => {
  db = d;
  server = s;
});

const F = "jobs_spec.rb";

const { get, post } = userRequests(() => server.api);

interface Expected {
  id: number;
  status: string;
  stage: string;
  name: string;
  ref: string;
  createdAt: Date;
  startedAt: Date;
  artifactsExpireAt: Date;
}

/** A job of GitLab's factory `:ci_build` in `status`, created 30 s before it started, artifacts expiring in a day. */
async function oracleJob(
  p: OracleProject,
  status: "success" | "running",
  extra: Partial<store.NewJob>,
): Promise<Expected> {
  const e = {
    status,
    stage: "test",
    name: "test",
    ref: p.ref,
    createdAt: new Date(STARTED.getTime() - 30_000),
    startedAt: STARTED,
    artifactsExpireAt: IN_A_DAY(),
  };
  const id = await store.createJob(db, {
    pipelineId: p.pipelineId,
    name: e.name,
    stage: e.stage,
    status: e.status,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    artifactsExpireAt: e.artifactsExpireAt,
    ...extra,
  });
  return { id, ...e };
}

/** GitLab's `:ci_build, :success, :tags, artifacts_expire_at: 1.day.since`. */
const successJob = (p: OracleProject, extra: Partial<store.NewJob> = {}) =>
  oracleJob(p, "success", { tagList: ["docker", "ruby"], finishedAt: FINISHED, ...extra });

/** GitLab's `:ci_build, :running, user: user, artifacts_expire_at: 1.day.since`, with its job token. */
async function runningJob(p: OracleProject, token: string): Promise<Expected> {
  const job = await oracleJob(p, "running", { userId: p.user.id });
  await store.createJobToken(db, job.id, token);
  return job;
}

/** The shared example "returns common job data". */
function expectCommonJobData(answer: Answer, e: Expected): void {
  expect(answer.status).toBe(200);
  const body = json(answer);
  expect(body.id).toBe(e.id);
  expect(body.status).toBe(e.status);
  expect(body.stage).toBe(e.stage);
  expect(body.name).toBe(e.name);
  expect(body.ref).toBe(e.ref);
  expect(body.tag).toBe(false);
  expect(body.coverage).toBeNull();
  expect(body.allow_failure).toBe(false);
  expectLikeTime(body.created_at, e.createdAt);
  expectLikeTime(body.started_at, e.startedAt);
  expectLikeTime(body.artifacts_expire_at, e.artifactsExpireAt);
  expect(body.artifacts_file ?? null).toBeNull();
  expect(body.artifacts).toEqual([]);
  expect(typeof body.web_url).toBe("string");
  expect(body.web_url).not.toBe("");
}

async function pipelineStatus(pipelineId: number): Promise<string> {
  const [row] = await db.query<{ status: string }>("SELECT status FROM pipelines WHERE id = $1", [
    pipelineId,
  ]);
  return row?.status ?? "";
}

/** The shared example "returns common pipeline data" (and the lists' "returns pipeline data"). */
async function expectPipelineData(job: Record<string, unknown>, p: OracleProject, projectId = true) {
  const pipeline = job.pipeline as Record<string, unknown>;
  expect(pipeline).toBeTypeOf("object");
  expect(pipeline.id).toBe(p.pipelineId);
  if (projectId) expect(pipeline.project_id).toBe(p.id);
  expect(pipeline.ref).toBe(p.ref);
  expect(pipeline.sha).toBe(p.sha);
  expect(pipeline.status).toBe(await pipelineStatus(p.pipelineId));
}

async function jobStatus(jobId: number): Promise<string> {
  const [row] = await db.query<{ status: string }>("SELECT status FROM jobs WHERE id = $1", [jobId]);
  return row?.status ?? "";
}

describe(`${F} › GET /job`, () => {
  it(`${F} › GET /job › when token is valid but not CI_JOB_TOKEN › returns not found (404)`, async () => {
    const p = await oracleProject(db);
    const answer = await get("/job", undefined, { "Private-Token": p.user.token });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(JOB_NOT_FOUND);
  });

  it(`${F} › GET /job › with job token authentication header › returns common job data, specific job data (finished_at nil) and common pipeline data`, async () => {
    const p = await oracleProject(db);
    const job = await runningJob(p, `glcbt-header-${p.id}`);
    const answer = await get("/job", undefined, { "JOB-TOKEN": `glcbt-header-${p.id}` });
    expectCommonJobData(answer, job);
    expect(json(answer).finished_at).toBeNull();
    await expectPipelineData(json(answer), p);
  });

  it(`${F} › GET /job › with job token authentication params › returns common job data, specific job data (finished_at nil) and common pipeline data`, async () => {
    const p = await oracleProject(db);
    const token = `glcbt-param-${p.id}`;
    const job = await runningJob(p, token);
    const answer = await get(`/job?job_token=${token}`);
    expectCommonJobData(answer, job);
    expect(json(answer).finished_at).toBeNull();
    await expectPipelineData(json(answer), p);
  });

  it(`${F} › GET /job › with non running job › returns unauthorized (401)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    await store.createJobToken(db, job.id, `glcbt-done-${p.id}`);
    const answer = await get("/job", undefined, { "JOB-TOKEN": `glcbt-done-${p.id}` });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /job › with basic auth header › does not return a job (404)`, async () => {
    const p = await oracleProject(db);
    await runningJob(p, `glcbt-basic-${p.id}`);
    const answer = await get("/job", undefined, { "PRIVATE-TOKEN": p.user.token });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(JOB_NOT_FOUND);
  });

  it(`${F} › GET /job › without authentication › returns unauthorized (401)`, async () => {
    const answer = await get("/job");
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });
});

describe(`${F} › GET /job/allowed_agents`, () => {
  /** The caller's running job (with `:artifacts`), an agent of the project and one shared with it. */
  async function agentsWorld(options: { status?: "running" | "success"; withUser?: boolean } = {}) {
    const p = await oracleProject(db);
    const jobId = await store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "test",
      status: options.status ?? "running",
      ...(options.withUser === false ? {} : { userId: p.user.id }),
      startedAt: STARTED,
      ...(options.status === "success" ? { finishedAt: FINISHED } : {}),
    });
    await store.addArtifacts(db, jobId, ARTIFACTS_AND_TRACE.slice(0, 2));
    const token = `glcbt-agents-${jobId}`;
    await store.createJobToken(db, jobId, token);
    const projectAgent = await store.createAgent(db, { projectId: p.id, name: `agent-${p.id}` });
    // In the project's own namespace: GitLab lists a share only from there (ci_access/finder.rb:29-39).
    const elsewhere = await store.createProject(db, { fullPath: `${p.path.split("/")[0]}/config` });
    const sharedAgent = await store.createAgent(db, {
      projectId: elsewhere,
      name: "shared",
      sharedWith: [p.id],
    });
    return { p, jobId, token, projectAgent, sharedAgent, elsewhere };
  }

  async function expectValidAllowedAgents(answer: Answer, w: Awaited<ReturnType<typeof agentsWorld>>) {
    expect(answer.status).toBe(200);
    const body = json(answer);
    expect.soft((body.job as Record<string, unknown>).id).toBe(w.jobId);
    expect.soft((body.pipeline as Record<string, unknown>).id).toBe(w.p.pipelineId);
    expect.soft((body.project as Record<string, unknown>).id).toBe(w.p.id);
    const user = body.user as Record<string, unknown>;
    expect.soft(user.id).toBe(w.p.user.id);
    expect.soft(user.username).toBe(w.p.user.username);
    expect
      .soft([...((user.roles_in_project as string[]) ?? [])].sort())
      // Gitlab::Access.sym_options_with_owner up to Developer; current GitLab has `planner` between guest and reporter.
      .toEqual(["developer", "guest", "planner", "reporter"]);
    expect.soft(body).not.toHaveProperty("environment");
    const agents = [...(body.allowed_agents as Record<string, unknown>[])].sort(
      (a, b) => Number(a.id) - Number(b.id),
    );
    expect(agents).toHaveLength(2);
    const byId = new Map(agents.map((a) => [a.id, a]));
    // The implicit authorization of the project's own agent: `ImplicitAuthorization#config` is `{}`.
    const own = byId.get(w.projectAgent);
    expect.soft(own).toMatchObject({ id: w.projectAgent, config_project: { id: w.p.id }, configuration: {} });
    const shared = byId.get(w.sharedAgent);
    expect.soft(shared).toMatchObject({ id: w.sharedAgent, config_project: { id: w.elsewhere } });
    expect.soft(shared).toHaveProperty("configuration");
  }

  it(`${F} › GET /job/allowed_agents › when token is valid and user is authorized › returns agent info`, async () => {
    const w = await agentsWorld();
    await expectValidAllowedAgents(await get("/job/allowed_agents", undefined, { "JOB-TOKEN": w.token }), w);
  });

  it(`${F} › GET /job/allowed_agents › when token is valid and user is authorized › when passing the token as params › returns agent info`, async () => {
    const w = await agentsWorld();
    await expectValidAllowedAgents(await get(`/job/allowed_agents?job_token=${w.token}`), w);
  });

  it(`${F} › GET /job/allowed_agents › when user is anonymous › returns unauthorized (401)`, async () => {
    const w = await agentsWorld({ withUser: false });
    const answer = await get("/job/allowed_agents", undefined, { "JOB-TOKEN": w.token });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /job/allowed_agents › when token is invalid because job has finished › returns unauthorized (401)`, async () => {
    const w = await agentsWorld({ status: "success" });
    const answer = await get("/job/allowed_agents", undefined, { "JOB-TOKEN": w.token });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /job/allowed_agents › when token is invalid › returns unauthorized (401)`, async () => {
    await agentsWorld();
    const answer = await get("/job/allowed_agents", undefined, { "JOB-TOKEN": "bad_token" });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /job/allowed_agents › when token is valid but not CI_JOB_TOKEN › returns not found (404)`, async () => {
    const w = await agentsWorld();
    const answer = await get("/job/allowed_agents", undefined, { "Private-Token": w.p.user.token });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(JOB_NOT_FOUND);
  });
});

describe(`${F} › GET /projects/:id/jobs`, () => {
  it(`${F} › GET /projects/:id/jobs › authorized user › returns project jobs (200, pagination headers, array)`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`, p.user.token);
    expect(answer.status).toBe(200);
    expectHeaders(answer.headers, LIMITED_PAGINATION_HEADERS);
    expect(Array.isArray(answer.body)).toBe(true);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › returns correct values`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`, p.user.token);
    const first = list(answer)[0];
    expect(first).toBeDefined();
    expect((first?.commit as Record<string, unknown> | undefined)?.id).toBe(p.sha);
    expectLikeTime(first?.artifacts_expire_at, job.artifactsExpireAt);
    expect([...((first?.tag_list as string[] | undefined) ?? [])].sort()).toEqual(["docker", "ruby"]);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › without artifacts and trace › returns no artifacts nor trace data`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`, p.user.token);
    expect(answer.status).toBe(200);
    const first = list(answer)[0];
    expect(first).not.toHaveProperty("artifacts_file");
    expect(first?.artifacts).toEqual([]);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › with artifacts and trace › returns artifacts and trace data`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const second = await successJob(p);
    await addArtifactsAndTrace(db, second.id);
    const answer = await get(`/projects/${p.id}/jobs`, p.user.token);
    expect(answer.status).toBe(200);
    expectArtifactsAndTrace(list(answer).find((j) => j.id === second.id));
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › returns pipeline data`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`, p.user.token);
    const first = list(answer)[0];
    expect(first).toBeDefined();
    await expectPipelineData(first ?? {}, p, false);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › filter project with one scope element (200, array)`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs?scope=pending`, p.user.token);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › filter project with array of scope elements (200, array)`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs?scope[]=pending&scope[]=running`, p.user.token);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]);
  });

  it(`${F} › GET /projects/:id/jobs › authorized user › respond 400 when scope contains invalid state`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs?scope[]=unknown&scope[]=running`, p.user.token);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });

  it(`${F} › GET /projects/:id/jobs › unauthorized user › when user is not logged in › does not return project jobs (401)`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /projects/:id/jobs › unauthorized user › when user is guest › does not return project jobs (403)`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs`, p.guest.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });
});

describe(`${F} › GET /projects/:id/jobs/:job_id`, () => {
  it(`${F} › GET /projects/:id/jobs/:job_id › authorized user › returns common job data, specific job data (finished_at, duration) and common pipeline data`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs/${job.id}`, p.user.token);
    expectCommonJobData(answer, job);
    expectLikeTime(json(answer).finished_at, FINISHED);
    expect(json(answer).duration).toBe((FINISHED.getTime() - STARTED.getTime()) / 1000);
    await expectPipelineData(json(answer), p);
  });

  it(`${F} › GET /projects/:id/jobs/:job_id › authorized user › with artifacts and trace › returns artifacts and trace data`, async () => {
    const p = await oracleProject(db);
    await successJob(p);
    const second = await successJob(p);
    await addArtifactsAndTrace(db, second.id);
    const answer = await get(`/projects/${p.id}/jobs/${second.id}`, p.user.token);
    expect(answer.status).toBe(200);
    expectArtifactsAndTrace(json(answer));
  });

  it(`${F} › GET /projects/:id/jobs/:job_id › unauthorized user › does not return specific job data (401)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs/${job.id}`);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });

  it(`${F} › GET /projects/:id/jobs/:job_id › when job succeeded › does not return failure_reason`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await get(`/projects/${p.id}/jobs/${job.id}`, p.user.token);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty("failure_reason");
  });
  it(`${F} › GET /projects/:id/jobs/:job_id › when job failed › returns failure_reason`, async () => {
    const p = await oracleProject(db);
    // `:ci_build, :failed, :tags`: failed, with no failure reason recorded.
    const job = await successJob(p, { status: "failed" });
    const answer = await get(`/projects/${p.id}/jobs/${job.id}`, p.user.token);
    expect(answer.status).toBe(200);
    expect(answer.body).toHaveProperty("failure_reason");
  });

  it(`${F} › GET /projects/:id/jobs/:job_id › when trace artifact record exists with no stored file › returns no artifacts nor trace data (one trace entry)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    await addTraceRecordWithoutFile(db, job.id);
    const answer = await get(`/projects/${p.id}/jobs/${job.id}`, p.user.token);
    expect(answer.status).toBe(200);
    const artifacts = json(answer).artifacts as Record<string, unknown>[];
    expect(artifacts).toHaveLength(1);
    expect(artifacts[0]?.file_type).toBe("trace");
    expect(artifacts[0]?.filename).toBe("job.log");
  });
});

describe(`${F} › GET /projects/:id/jobs/:job_id/trace`, () => {
  const LOG = "Running with gitlab-runner 16.0\n\u001b[32;1m$ rspec\u001b[0;m\n3 examples, 0 failures\n";

  /** The log as the project's developer reads it, or anonymously when `anonymous`. */
  async function traceOf(p: OracleProject, jobId: number, anonymous = false) {
    return get(`/projects/${p.id}/jobs/${jobId}/trace`, anonymous ? undefined : p.user.token);
  }

  it(`${F} › GET …/trace › authorized user › when log is artifact › returns specific job log`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    await store.setTrace(db, job.id, LOG);
    await store.addArtifacts(db, job.id, [ARTIFACTS_AND_TRACE[2]]);
    const answer = await traceOf(p, job.id);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(LOG);
  });

  it(`${F} › GET …/trace › authorized user › when incremental logging and uploadless log artifact › returns specific job log`, async () => {
    const p = await oracleProject(db);
    const id = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    await store.setTrace(db, id, LOG);
    await addTraceRecordWithoutFile(db, id);
    const answer = await traceOf(p, id);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(LOG);
  });

  it(`${F} › GET …/trace › authorized user › when log is incremental › returns specific job log`, async () => {
    const p = await oracleProject(db);
    const id = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    await store.setTrace(db, id, LOG);
    const answer = await traceOf(p, id);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(LOG);
  });

  it(`${F} › GET …/trace › authorized user › when no log › returns empty log`, async () => {
    const p = await oracleProject(db);
    const id = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    const answer = await traceOf(p, id);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("");
  });

  it(`${F} › GET …/trace › authorized user › when log artifact record exists with no stored file › returns empty trace`, async () => {
    const p = await oracleProject(db);
    const id = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    await addTraceRecordWithoutFile(db, id);
    const answer = await traceOf(p, id);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("");
  });

  it(`${F} › GET …/trace › unauthorized user › does not return specific job log (401)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    await store.setTrace(db, job.id, LOG);
    const answer = await traceOf(p, job.id, true);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });
});

describe(`${F} › POST /projects/:id/jobs/:job_id/cancel`, () => {
  it(`${F} › POST …/cancel › authorized user › user with :update_build persmission › cancels running or pending job (201; a success job stays success)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/cancel`, p.user.token);
    expect(answer.status).toBe(201);
    expect(json(answer).id).toBe(job.id);
    expect(json(answer).status).toBe("success");
    expect(await jobStatus(job.id)).toBe("success");
  });

  it(`${F} › POST …/cancel › authorized user › user without :update_build permission › does not cancel job (403)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/cancel`, p.reporter.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${F} › POST …/cancel › unauthorized user › does not cancel job (401)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/cancel`);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });
});

describe(`${F} › POST /projects/:id/jobs/:job_id/retry`, () => {
  /** `:ci_build, :canceled` (or another status). */
  const finishedJob = (p: OracleProject, status: "canceled" | "created" = "canceled") =>
    store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "test",
      status,
      ...(status === "canceled" ? { startedAt: STARTED, finishedAt: FINISHED } : {}),
    });

  it(`${F} › POST …/retry › authorized user › user with :update_build permission › retries non-running job (201, new job pending, old one canceled)`, async () => {
    const p = await oracleProject(db);
    const id = await finishedJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${id}/retry`, p.user.token);
    expect(answer.status).toBe(201);
    expect(json(answer).status).toBe("pending");
    expect(await jobStatus(id)).toBe("canceled");
  });

  it(`${F} › POST …/retry › authorized user › when a build is not retryable › responds with 403 Job is not retryable`, async () => {
    const p = await oracleProject(db);
    const id = await finishedJob(p, "created");
    const answer = await post(`/projects/${p.id}/jobs/${id}/retry`, p.user.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "403 Forbidden - Job is not retryable" });
  });

  it(`${F} › POST …/retry › authorized user › user without :update_build permission › does not retry job (403)`, async () => {
    const p = await oracleProject(db);
    const id = await finishedJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${id}/retry`, p.reporter.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
    expect(await jobStatus(id)).toBe("canceled");
  });

  it(`${F} › POST …/retry › unauthorized user › does not retry job (401)`, async () => {
    const p = await oracleProject(db);
    const id = await finishedJob(p);
    const answer = await post(`/projects/${p.id}/jobs/${id}/retry`);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual(UNAUTHORIZED);
  });
});

describe(`${F} › POST /projects/:id/jobs/:job_id/erase`, () => {
  /** The shared example "erases job": no artifacts, no log, no archive left. */
  async function expectErased(p: OracleProject, jobId: number) {
    const [count] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM job_artifacts WHERE job_id = $1",
      [jobId],
    );
    expect(count?.n).toBe(0);
    const job = await get(`/projects/${p.id}/jobs/${jobId}`, p.user.token);
    expect(json(job).artifacts).toEqual([]);
    expect(json(job)).not.toHaveProperty("artifacts_file");
    const trace = await get(`/projects/${p.id}/jobs/${jobId}/trace`, p.user.token);
    expect(trace.status).toBe(200);
    expect(trace.text).toBe("");
  }

  it(`${F} › POST …/erase › job is erasable › erases job content (201) and updates job (erased_at, erased_by)`, async () => {
    const p = await oracleProject(db, { userRole: "maintainer" });
    const job = await successJob(p);
    await addArtifactsAndTrace(db, job.id);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/erase`, p.user.token);
    expect(answer.status).toBe(201);
    await expectErased(p, job.id);
    expect(json(answer).erased_at).toBeTruthy();
    const [row] = await db.query<{ erased_at: Date | null; erased_by_id: number | null }>(
      "SELECT erased_at, erased_by_id FROM jobs WHERE id = $1",
      [job.id],
    );
    expect(row?.erased_at).toBeTruthy();
    expect(Number(row?.erased_by_id)).toBe(p.user.id);
  });

  it(`${F} › POST …/erase › when job has an unarchived trace artifact › erases job content (201)`, async () => {
    const p = await oracleProject(db, { userRole: "maintainer" });
    const job = await successJob(p);
    await store.setTrace(db, job.id, "live log\n");
    await addTraceRecordWithoutFile(db, job.id);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/erase`, p.user.token);
    expect(answer.status).toBe(201);
    await expectErased(p, job.id);
  });

  it(`${F} › POST …/erase › job is not erasable › responds with forbidden (403)`, async () => {
    const p = await oracleProject(db, { userRole: "maintainer" });
    // `:ci_build, :trace_live`: the factory's default status (pending), with a live log.
    const id = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    await store.setTrace(db, id, "live log\n");
    const answer = await post(`/projects/${p.id}/jobs/${id}/erase`, p.user.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "403 Forbidden - Job is not erasable!" });
  });

  it(`${F} › POST …/erase › when a developer erases a build › when the build was created by the developer (201)`, async () => {
    const p = await oracleProject(db, { userRole: "developer" });
    const job = await successJob(p, { userId: p.user.id });
    await addArtifactsAndTrace(db, job.id);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/erase`, p.user.token);
    expect(answer.status).toBe(201);
  });

  it(`${F} › POST …/erase › when a developer erases a build › when the build was created by the other (403)`, async () => {
    const p = await oracleProject(db, { userRole: "developer" });
    const other = await person(db, "other");
    const job = await successJob(p, { userId: other.id });
    await addArtifactsAndTrace(db, job.id);
    const answer = await post(`/projects/${p.id}/jobs/${job.id}/erase`, p.user.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });
});

describe(`${F} › POST /projects/:id/jobs/:job_id/play`, () => {
  /** `:ci_build, :manual` (or `:ci_bridge, :playable`). */
  const manualJob = (p: OracleProject, type: "build" | "bridge" = "build") =>
    store.createJob(db, { pipelineId: p.pipelineId, type, name: "deploy", status: "manual", when: "manual" });

  async function variablesOf(jobId: number) {
    return db.query<{ key: string; value: string }>(
      "SELECT key, value FROM job_variables WHERE job_id = $1 ORDER BY key",
      [jobId],
    );
  }

  const play = (p: OracleProject, id: number, token?: string, body?: unknown) =>
    post(`/projects/${p.id}/jobs/${id}/play`, token, body);

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › that is a bridge › plays the job (200)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p, "bridge");
    const answer = await play(p, id, p.user.token);
    expect(answer.status).toBe(200);
    expect((json(answer).user as Record<string, unknown>).id).toBe(p.user.id);
    expect(json(answer).id).toBe(id);
    expect(await jobStatus(id)).toBe("pending");
  });

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › that is a build › plays the job (200)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.user.token);
    expect(answer.status).toBe(200);
    expect((json(answer).user as Record<string, unknown>).id).toBe(p.user.id);
    expect(json(answer).id).toBe(id);
    expect(await jobStatus(id)).toBe("pending");
  });

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › when the user provides valid custom variables › applies the variables to the job`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.user.token, {
      job_variables_attributes: [{ key: "TEST_VAR", value: "test" }],
    });
    expect(answer.status).toBe(200);
    expect(await jobStatus(id)).toBe("pending");
    expect(await variablesOf(id)).toEqual([{ key: "TEST_VAR", value: "test" }]);
  });

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › when the user provides a variable without a key › reports that the key is missing (400)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.user.token, { job_variables_attributes: [{ value: "test" }] });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "job_variables_attributes[0][key] is missing" });
    expect(await jobStatus(id)).toBe("manual");
  });

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › when the user provides a variable without a value › reports that the value is missing (400)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.user.token, { job_variables_attributes: [{ key: "TEST_VAR" }] });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "job_variables_attributes[0][value] is missing" });
    expect(await jobStatus(id)).toBe("manual");
  });

  it(`${F} › POST …/play › on a playable job › when user is authorized to trigger a manual action › when the user provides both valid and invalid variables › reports the invalid variables and does not run the job (400)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.user.token, {
      job_variables_attributes: [{ key: "TEST_VAR", value: "test" }, { value: "test2" }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "job_variables_attributes[1][key] is missing" });
    expect(await jobStatus(id)).toBe("manual");
  });

  it(`${F} › POST …/play › on a playable job › when user is not authorized to trigger a manual action › when user does not have access to the project › does not trigger a manual action (404)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.stranger.token);
    expect(await jobStatus(id)).toBe("manual");
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(PROJECT_NOT_FOUND);
  });

  it(`${F} › POST …/play › on a playable job › when user is not authorized to trigger a manual action › when user is not allowed to trigger the manual action › does not trigger a manual action (403)`, async () => {
    const p = await oracleProject(db);
    const id = await manualJob(p);
    const answer = await play(p, id, p.reporter.token);
    expect(await jobStatus(id)).toBe("manual");
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${F} › POST …/play › on a non-playable job › returns a status code 400, Bad Request (Unplayable Job)`, async () => {
    const p = await oracleProject(db);
    const job = await successJob(p);
    const answer = await play(p, job.id, p.user.token);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ message: "400 Bad request - Unplayable Job" });
  });
});
