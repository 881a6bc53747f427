// Oracle: GitLab's spec/requests/api/ci/pipelines_spec.rb, the describes `GET /projects/:id/pipelines/
// :pipeline_id/jobs` and `GET /projects/:id/pipelines/:pipeline_id/bridges`, context by context, against the
// reference server. Each test builds its own project; the facts asserted are GitLab's.
//
// Skipped contexts (features the server does not model):
// - GET …/jobs › authorized user › avoids N+1 queries: a query count, not an HTTP behaviour.
// - GET …/bridges › authorized user › avoids N+1 queries: same.
// The other describes of the file (pipelines themselves) are not among the 11 operations.

import { describe, expect, it } from "vitest";
import { type Database, type DemoServer, store } from "../../src/index.js";
import { serveForFile } from "../helpers/server.js";
import {
  addArtifactsAndTrace,
  expectArtifactsAndTrace,
  expectHeaders,
  expectLikeTime,
  FINISHED,
  FORBIDDEN,
  IN_A_DAY,
  INVALID_SCOPE,
  list,
  type OracleProject,
  oracleProject,
  PAGINATION_HEADERS,
  PROJECT_NOT_FOUND,
  randomSha,
  STARTED,
  userRequests,
} from "./world.js";

let db: Database;
let server: DemoServer;
serveForFile((d, s) => {
  db = d;
  server = s;
});

const F = "pipelines_spec.rb";

const { get } = userRequests(() => server.api);

/** The spec's world: `user` is Maintainer of a private project with one pipeline. */
const world = () => oracleProject(db, { userRole: "maintainer" });

async function pipelineRow(pipelineId: number) {
  const [row] = await db.query<{ project_id: number; ref: string; sha: string; status: string }>(
    "SELECT project_id, ref, sha, status FROM pipelines WHERE id = $1",
    [pipelineId],
  );
  if (!row) throw new Error(`no pipeline ${pipelineId}`);
  return { ...row, project_id: Number(row.project_id) };
}

/** `it 'returns pipeline data'` (and `'returns downstream pipeline data'`): id, project_id, ref, sha, status. */
async function expectPipeline(actual: unknown, pipelineId: number) {
  const pipeline = actual as Record<string, unknown>;
  expect(pipeline).toBeTypeOf("object");
  expect(pipeline).not.toBeNull();
  const row = await pipelineRow(pipelineId);
  expect(pipeline.id).toBe(pipelineId);
  expect(pipeline.project_id).toBe(row.project_id);
  expect(pipeline.ref).toBe(row.ref);
  expect(pipeline.sha).toBe(row.sha);
  expect(pipeline.status).toBe(row.status);
}

/** A private project the spec's user cannot see (`project2`). */
const invisibleProject = () =>
  store.createProject(db, { fullPath: `hidden-${randomSha().slice(0, 8)}/project2`, visibility: "private" });

describe(`${F} › GET /projects/:id/pipelines/:pipeline_id/jobs`, () => {
  /** `:ci_build, :success, name: 'build', artifacts_expire_at: 1.day.since`. */
  async function jobsWorld() {
    const p = await world();
    const artifactsExpireAt = IN_A_DAY();
    const jobId = await store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "build",
      status: "success",
      startedAt: STARTED,
      finishedAt: FINISHED,
      artifactsExpireAt,
    });
    return { p, jobId, artifactsExpireAt };
  }

  const jobsOf = (p: OracleProject, query = "", token: string | null = p.user.token) =>
    get(`/projects/${p.id}/pipelines/${p.pipelineId}/jobs${query}`, token ?? undefined);

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › returns pipeline jobs (200, pagination headers, array)`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p);
    expect(answer.status).toBe(200);
    expectHeaders(answer.headers, PAGINATION_HEADERS);
    expect(Array.isArray(answer.body)).toBe(true);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › returns correct values`, async () => {
    const { p, artifactsExpireAt } = await jobsWorld();
    const first = list(await jobsOf(p))[0];
    expect(first).toBeDefined();
    expect((first?.commit as Record<string, unknown> | undefined)?.id).toBe(p.sha);
    expectLikeTime(first?.artifacts_expire_at, artifactsExpireAt);
    expect(first).not.toHaveProperty("artifacts_file");
    expect(first?.artifacts).toEqual([]);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › with artifacts and trace › returns artifacts and trace data`, async () => {
    const { p } = await jobsWorld();
    const second = await store.createJob(db, { pipelineId: p.pipelineId, name: "test", status: "pending" });
    await addArtifactsAndTrace(db, second);
    const job = list(await jobsOf(p)).find((j) => j.id === second);
    expectArtifactsAndTrace(job);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › returns pipeline data`, async () => {
    const { p } = await jobsWorld();
    const first = list(await jobsOf(p))[0];
    await expectPipeline(first?.pipeline, p.pipelineId);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › filter jobs with one scope element (pending: duration nil, queued_duration ≥ 0)`, async () => {
    const { p } = await jobsWorld();
    await store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "queued",
      status: "pending",
      queuedAt: new Date(Date.now() - 5_000),
    });
    const answer = await jobsOf(p, "?scope=pending");
    expect(answer.status).toBe(200);
    const jobs = list(answer);
    expect(jobs).toHaveLength(1);
    for (const job of jobs) {
      expect(job.duration).toBeNull();
      expect(job.queued_duration).toBeGreaterThanOrEqual(0);
    }
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › when filtering to only running jobs (duration ≥ 0, queued_duration ≥ 0)`, async () => {
    const { p } = await jobsWorld();
    await store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "running",
      status: "running",
      queuedAt: new Date(Date.now() - 10_000),
      startedAt: new Date(Date.now() - 5_000),
    });
    const answer = await jobsOf(p, "?scope=running");
    expect(answer.status).toBe(200);
    const jobs = list(answer);
    expect(jobs).toHaveLength(1);
    for (const job of jobs) {
      expect(job.duration).toBeGreaterThanOrEqual(0);
      expect(job.queued_duration).toBeGreaterThanOrEqual(0);
    }
  });
  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › filter jobs with hash (400)`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p, "?scope[hello]=pending&scope[world]=running");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › filter jobs with array of scope elements (200, array)`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p, "?scope[]=pending&scope[]=running");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › respond 400 when scope contains invalid state`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p, "?scope[]=unknown&scope[]=running");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › jobs in different pipelines › excludes jobs from other pipelines`, async () => {
    const { p, jobId } = await jobsWorld();
    const pipeline2 = await store.createPipeline(db, { projectId: p.id, commit: { sha: p.sha } });
    await store.createJob(db, { pipelineId: pipeline2, name: "test", status: "pending" });
    const answer = await jobsOf(p);
    expect(answer.status).toBe(200);
    expect(list(answer).map((j) => j.id)).toEqual([jobId]);
    for (const job of list(answer)) expect((job.pipeline as Record<string, unknown>).id).toBe(p.pipelineId);
  });

  describe("pipeline has retried jobs", () => {
    /** The spec's `job`, retried, and its successor of the same name. */
    async function retriedWorld() {
      const { p, jobId } = await jobsWorld();
      await db.query("UPDATE jobs SET retried = true WHERE id = $1", [jobId]);
      await store.createJob(db, {
        pipelineId: p.pipelineId,
        name: "build",
        status: "success",
        startedAt: STARTED,
        finishedAt: FINISHED,
        retryOfId: jobId,
      });
      return p;
    }

    it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › pipeline has retried jobs › does not return retried jobs by default`, async () => {
      const p = await retriedWorld();
      const answer = await jobsOf(p);
      expect(answer.status).toBe(200);
      expect(list(answer)).toHaveLength(1);
    });

    it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › pipeline has retried jobs › when include_retried is false › does not return retried jobs`, async () => {
      const p = await retriedWorld();
      const answer = await jobsOf(p, "?include_retried=false");
      expect(answer.status).toBe(200);
      expect(list(answer)).toHaveLength(1);
    });

    it(`${F} › GET …/pipelines/:pipeline_id/jobs › authorized user › pipeline has retried jobs › when include_retried is true › returns retried jobs`, async () => {
      const p = await retriedWorld();
      const answer = await jobsOf(p, "?include_retried=true");
      expect(answer.status).toBe(200);
      const jobs = list(answer);
      expect(jobs).toHaveLength(2);
      expect(jobs[0]?.name).toBe(jobs[1]?.name);
    });
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › no pipeline is found › does not return jobs (404 Project Not Found)`, async () => {
    const { p } = await jobsWorld();
    const project2 = await invisibleProject();
    const answer = await get(`/projects/${project2}/pipelines/${p.pipelineId}/jobs`, p.user.token);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(PROJECT_NOT_FOUND);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › unauthorized user › when user is not logged in › does not return jobs (404 Project Not Found)`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p, "", null);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(PROJECT_NOT_FOUND);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/jobs › unauthorized user › when user is guest › does not return jobs (403)`, async () => {
    const { p } = await jobsWorld();
    const answer = await jobsOf(p, "", p.guest.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });
});

describe(`${F} › GET /projects/:id/pipelines/:pipeline_id/bridges`, () => {
  /** A trigger job of `pipelineId` whose downstream pipeline runs in a project of its own. */
  async function bridgeOf(pipelineId: number, status: "created" | "pending" | "running" = "created") {
    const downstreamProject = await store.createProject(db, {
      fullPath: `downstream-${randomSha().slice(0, 8)}/project`,
    });
    const downstream = await store.createPipeline(db, {
      projectId: downstreamProject,
      commit: { sha: randomSha() },
      status: "running",
    });
    const id = await store.createJob(db, {
      pipelineId,
      type: "bridge",
      name: "trigger",
      stage: "deploy",
      status,
      downstreamPipelineId: downstream,
    });
    return { id, downstream };
  }

  /** The spec's world: one bridge of the pipeline (`:ci_bridge`, created), with a downstream pipeline. */
  async function bridgesWorld() {
    const p = await world();
    const bridge = await bridgeOf(p.pipelineId);
    return { p, bridge };
  }

  const bridgesOf = (p: OracleProject, query = "", token: string | null = p.user.token) =>
    get(`/projects/${p.id}/pipelines/${p.pipelineId}/bridges${query}`, token ?? undefined);

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › returns pipeline bridges (200, pagination headers, array)`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p);
    expect(answer.status).toBe(200);
    expectHeaders(answer.headers, PAGINATION_HEADERS);
    expect(Array.isArray(answer.body)).toBe(true);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › returns correct values`, async () => {
    const { p, bridge } = await bridgesWorld();
    const first = list(await bridgesOf(p))[0];
    expect(first).toBeDefined();
    expect((first?.commit as Record<string, unknown> | undefined)?.id).toBe(p.sha);
    expect(first?.id).toBe(bridge.id);
    expect(first?.name).toBe("trigger");
    expect(first?.stage).toBe("deploy");
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › returns pipeline data`, async () => {
    const { p } = await bridgesWorld();
    const first = list(await bridgesOf(p))[0];
    await expectPipeline(first?.pipeline, p.pipelineId);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › returns downstream pipeline data`, async () => {
    const { p, bridge } = await bridgesWorld();
    const first = list(await bridgesOf(p))[0];
    await expectPipeline(first?.downstream_pipeline, bridge.downstream);
  });

  describe("filter bridges", () => {
    async function filterWorld() {
      const w = await bridgesWorld();
      await bridgeOf(w.p.pipelineId, "pending");
      await bridgeOf(w.p.pipelineId, "running");
      return w;
    }

    it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › filter bridges › with one scope element`, async () => {
      const { p } = await filterWorld();
      const answer = await bridgesOf(p, "?scope=pending");
      expect(answer.status).toBe(200);
      expect(list(answer)).toHaveLength(1);
      expect(list(answer)[0]?.status).toBe("pending");
    });

    it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › filter bridges › with array of scope elements`, async () => {
      const { p } = await filterWorld();
      const answer = await bridgesOf(p, "?scope[]=pending&scope[]=running");
      expect(answer.status).toBe(200);
      expect(list(answer)).toHaveLength(2);
      for (const bridge of list(answer)) expect(["pending", "running"]).toContain(bridge.status);
    });
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › respond 400 when scope contains invalid state › in an array`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p, "?scope[]=unknown&scope[]=running");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });
  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › respond 400 when scope contains invalid state › in a hash`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p, "?scope[unknown]=true");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › respond 400 when scope contains invalid state › in a string`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p, "?scope=unknown");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(INVALID_SCOPE);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › authorized user › bridges in different pipelines › excludes bridges from other pipelines`, async () => {
    const { p, bridge } = await bridgesWorld();
    const pipeline2 = await store.createPipeline(db, { projectId: p.id, commit: { sha: p.sha } });
    await bridgeOf(pipeline2);
    const answer = await bridgesOf(p);
    expect(answer.status).toBe(200);
    expect(list(answer).map((b) => b.id)).toEqual([bridge.id]);
    for (const b of list(answer)) expect((b.pipeline as Record<string, unknown>).id).toBe(p.pipelineId);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › no pipeline is found › does not return bridges (404 Project Not Found)`, async () => {
    const { p } = await bridgesWorld();
    const project2 = await invisibleProject();
    const answer = await get(`/projects/${project2}/pipelines/${p.pipelineId}/bridges`, p.user.token);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(PROJECT_NOT_FOUND);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › unauthorized user › when user is not logged in › does not return bridges (404 Project Not Found)`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p, "", null);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(PROJECT_NOT_FOUND);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › unauthorized user › when user is guest › does not return bridges (403)`, async () => {
    const { p } = await bridgesWorld();
    const answer = await bridgesOf(p, "", p.guest.token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${F} › GET …/pipelines/:pipeline_id/bridges › unauthorized user › when user has no read_build access for project (403)`, async () => {
    const { p } = await bridgesWorld();
    // `project.add_guest(api_user)`: the spec's maintainer becomes a guest.
    await store.addMember(db, p.id, p.user.id, "guest");
    const answer = await bridgesOf(p);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });
});
