// Oracle: GitLab's spec/requests/api/ci/runner/jobs_request_post_spec.rb (gitlabhq 00d1f415), context by
// context, against the reference server. Each test builds its own project and runner; the facts asserted are
// GitLab's.
//
// Skipped contexts (features the server does not model):
// - when other projects have pending jobs / shared runner for a project without shared runners: no
//   runner-to-project assignment; every runner serves every project (tags keep the tests apart).
// - user agent versions, X-Forwarded-For addresses, persistent refs, Gitaly failures, release steps and
//   `multi_build_steps`, merge request pipelines, trigger variables, project timeouts and `maximum_timeout`,
//   image/services/artifacts/cache/hooks configuration, dependencies between stages, registry credentials
//   when the registry is on, query counts: none of it is in the data model (the payload sends GitLab's
//   values for a job that configures none of it).
// - when concurrently updating a job › returns a conflict: concurrent runners skip a locked job instead.

import { describe, expect, it } from "vitest";
import { type Database, type DemoServer, store } from "../../src/index.js";
import { call, serveForFile } from "../helpers/server.js";
import { jobState, type OracleRunner, oracleRunner, pendingJob } from "./runner-world.js";
import { FORBIDDEN, json, type OracleProject, oracleProject } from "./world.js";

let db: Database;
let server: DemoServer;
serveForFile((d, s) => {
  db = d;
  server = s;
});

const F = "jobs_request_post_spec.rb";
const C = `${F} › POST /api/v4/jobs/request`;

const requestJob = (runner: OracleRunner | string, params: Record<string, unknown> = {}) =>
  call(`${server.api}/jobs/request`, {
    method: "POST",
    json: { token: typeof runner === "string" ? runner : runner.token, ...params },
  });

async function world(options: { paused?: boolean; runUntagged?: boolean } = {}) {
  const p = await oracleProject(db);
  const runner = await oracleRunner(db, options);
  return { p, runner };
}

/** The shared example "no jobs available". */
async function expectNoJobs(runner: OracleRunner): Promise<void> {
  const answer = await requestJob(runner);
  expect(answer.status).toBe(204);
  expect(answer.text).toBe("");
  const lastUpdate = answer.headers.get("x-gitlab-last-update");
  expect(lastUpdate).toMatch(/\S/);
  // when last_update is up-to-date: 204 with the same value.
  const again = await requestJob(runner, { last_update: lastUpdate });
  expect(again.status).toBe(204);
  expect(again.headers.get("x-gitlab-last-update")).toBe(lastUpdate);
}

const contactedAt = async (runnerId: number) =>
  (
    await db.query<{ contacted_at: Date | null }>("SELECT contacted_at FROM runners WHERE id = $1", [
      runnerId,
    ])
  )[0]?.contacted_at ?? null;

describe(C, () => {
  it(`${C} › when no token is provided › returns 400 error`, async () => {
    const answer = await call(`${server.api}/jobs/request`, { method: "POST" });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "token is missing" });
  });

  it(`${C} › when invalid token is provided › returns 403 error`, async () => {
    const answer = await requestJob("invalid");
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${C} › when valid token is provided › when Runner is not active › returns 204 error`, async () => {
    const { p, runner } = await world({ paused: true });
    const id = await pendingJob(db, p, runner);
    const answer = await requestJob(runner);
    expect(answer.status).toBe(204);
    expect(answer.headers.get("x-gitlab-last-update")).toMatch(/\S/);
    expect((await jobState(db, id)).status).toBe("pending");
  });

  it(`${C} › when valid token is provided › when system_id parameter is specified › when ci_runner_machines with same system_xid does not exist › creates respective ci_runner_machines record`, async () => {
    const { runner } = await world();
    await requestJob(runner, { system_id: "s_some_system_id", info: { version: "17.5.0" } });
    const managers = await db.query<{ system_id: string; contacted_at: Date | null; version: string | null }>(
      "SELECT system_id, contacted_at, version FROM runner_managers WHERE runner_id = $1",
      [runner.id],
    );
    expect(managers).toHaveLength(1);
    expect(managers[0]?.system_id).toBe("s_some_system_id");
    expect(managers[0]?.contacted_at).not.toBeNull();
    expect(managers[0]?.version).toBe("17.5.0");
  });

  it(`${C} › when valid token is provided › when system_id parameter is specified › when ci_runner_machines with same system_xid already exists › does not create new ci_runner_machines record`, async () => {
    const { runner } = await world();
    await store.createRunnerManager(db, { runnerId: runner.id, systemId: "s_existing_system_id" });
    await requestJob(runner, { system_id: "s_existing_system_id" });
    const [count] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM runner_managers WHERE runner_id = $1",
      [runner.id],
    );
    expect(count?.n).toBe(1);
  });

  it(`${C} › when valid token is provided › when jobs are finished › no jobs available`, async () => {
    const { p, runner } = await world();
    await pendingJob(db, p, runner, { status: "success" });
    await expectNoJobs(runner);
  });

  it(`${C} › when valid token is provided › when jobs are finished › no jobs available › when last_update is outdated › gives 204 and set a new X-GitLab-Last-Update`, async () => {
    const { p, runner } = await world();
    const first = await requestJob(runner);
    const lastUpdate = first.headers.get("x-gitlab-last-update");
    // A job queued for the runner ticks its queue; a job that leaves the queue again ticks it once more.
    const id = await pendingJob(db, p, runner);
    await db.query("UPDATE jobs SET status = 'canceled' WHERE id = $1", [id]);
    await pendingJob(db, p, runner, { status: "created" });
    const answer = await requestJob(runner, { last_update: lastUpdate });
    expect(answer.status).toBe(204);
    expect(answer.headers.get("x-gitlab-last-update")).toBe(lastUpdate);
    const queued = await pendingJob(db, p, runner);
    const picked = await requestJob(runner, { last_update: lastUpdate });
    expect(picked.status).toBe(201);
    expect(json(picked).id).toBe(queued);
  });

  describe(`${C} › when valid token is provided › when there is a pending job`, () => {
    it(`${C} › when valid token is provided › when there is a pending job › picks a job`, async () => {
      const { p, runner } = await world();
      const id = await pendingJob(db, p, runner, { script: ["echo"] });
      const answer = await requestJob(runner, { info: { platform: "darwin" } });
      expect(answer.status).toBe(201);
      expect(answer.headers.get("content-type")).toBe("application/json");
      expect(answer.headers.has("x-gitlab-last-update")).toBe(false);
      const body = json(answer);
      expect(body.id).toBe(id);
      expect(body.token).toMatch(/^glcbt-/);
      expect(body.job_info).toMatchObject({
        id,
        name: "spinach",
        stage: "test",
        project_id: p.id,
        project_name: "project",
      });
      expect(body.git_info).toEqual({
        repo_url: expect.stringMatching(
          new RegExp(`^https?://gitlab-ci-token:${body.token}@.+/${p.path}\\.git$`),
        ),
        ref: p.ref,
        sha: p.sha,
        before_sha: "0000000000000000000000000000000000000000",
        ref_type: "branch",
        refspecs: [
          `+refs/pipelines/${p.pipelineId}:refs/pipelines/${p.pipelineId}`,
          `+refs/heads/${p.ref}:refs/remotes/origin/${p.ref}`,
        ],
        depth: 20,
      });
      expect(body.image).toBeNull();
      expect(body.services).toEqual([]);
      expect(body.steps).toEqual([
        { name: "script", script: ["echo"], timeout: 3600, when: "on_success", allow_failure: false },
      ]);
      expect(body.variables).toEqual(
        expect.arrayContaining([
          { key: "CI_JOB_NAME", value: "spinach", public: true, masked: false },
          { key: "CI_JOB_STAGE", value: "test", public: true, masked: false },
          { key: "CI_JOB_TOKEN", value: body.token, public: false, masked: true },
        ]),
      );
      expect(body.features).toMatchObject({
        trace_sections: true,
        failure_reasons: expect.arrayContaining(["script_failure"]),
      });
    });

    it(`${C} › when valid token is provided › when there is a pending job › picks a job › the job runs on the runner (Ci::Build#run!)`, async () => {
      const { p, runner } = await world();
      const id = await pendingJob(db, p, runner);
      await requestJob(runner, { system_id: "s_picker" });
      const row = await jobState(db, id);
      expect(row.status).toBe("running");
      expect(row.runner_id).toBe(runner.id);
      expect(row.runner_manager_id).not.toBeNull();
      expect(row.started_at).not.toBeNull();
      const job = await call(`${server.api}/projects/${p.id}/jobs/${id}`, { token: p.user.token });
      expect(json(job)).toMatchObject({ status: "running", runner: { id: runner.id } });
      expect(json(job).queued_duration).toBeGreaterThanOrEqual(60);
      expect((json(job).runner_manager as { system_id: string }).system_id).toBe("s_picker");
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job is made for tag › sets branch as ref_type`, async () => {
      const { p, runner } = await world();
      const tagPipeline = await store.createPipeline(db, {
        projectId: p.id,
        commit: { sha: p.sha },
        ref: "v1.0",
      });
      const id = await pendingJob(db, p, runner, { pipelineId: tagPipeline });
      await db.query("UPDATE jobs SET tag = true WHERE id = $1", [id]);
      const answer = await requestJob(runner);
      expect(answer.status).toBe(201);
      const git = json(answer).git_info as { ref_type: string; refspecs: string[] };
      expect(git.ref_type).toBe("tag");
      expect(git.refspecs).toContain("+refs/tags/v1.0:refs/tags/v1.0");
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job is made for branch › when GIT_DEPTH is specified › specifies refspecs`, async () => {
      const { p, runner } = await world();
      const id = await pendingJob(db, p, runner);
      await db.query("INSERT INTO job_variables (job_id, key, value) VALUES ($1, 'GIT_DEPTH', '1')", [id]);
      const answer = await requestJob(runner);
      expect(answer.status).toBe(201);
      const git = json(answer).git_info as { depth: number; refspecs: string[] };
      expect(git.depth).toBe(1);
      expect(git.refspecs).toContain(`+refs/heads/${p.ref}:refs/remotes/origin/${p.ref}`);
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job filtered by job_age › job is queued less than job_age parameter › gives 204`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner, { queuedAt: new Date(Date.now() - 60_000) });
      expect((await requestJob(runner, { job_age: 120 })).status).toBe(204);
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job filtered by job_age › job is queued more than job_age parameter › picks a job`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner, { queuedAt: new Date(Date.now() - 60_000) });
      expect((await requestJob(runner, { job_age: 30 })).status).toBe(201);
    });

    it(`${C} › when valid token is provided › when there is a pending job › updates runner info`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner);
      expect(await contactedAt(runner.id)).toBeNull();
      await requestJob(runner);
      expect(await contactedAt(runner.id)).not.toBeNull();
    });

    it.each(["version", "revision", "platform", "architecture"])(
      `${C} › when valid token is provided › when there is a pending job › when info parameter '%s' is present › updates provided Runner's parameter`,
      async (param) => {
        const { p, runner } = await world();
        await pendingJob(db, p, runner);
        const answer = await requestJob(runner, { system_id: "s_info", info: { [param]: `${param}_value` } });
        expect(answer.status).toBe(201);
        const [manager] = await db.query<Record<string, string>>(
          `SELECT ${param} AS value FROM runner_managers WHERE runner_id = $1`,
          [runner.id],
        );
        expect(manager?.value).toBe(`${param}_value`);
      },
    );

    it(`${C} › when valid token is provided › when there is a pending job › when job has no tags › when runner is allowed to pick untagged jobs › picks job`, async () => {
      const { p, runner } = await world({ runUntagged: true });
      // Untagged jobs of other tests may come first; this one is among those the runner gets.
      const id = await pendingJob(db, p, runner, { tagList: [] });
      const picked: unknown[] = [];
      for (let answer = await requestJob(runner); answer.status === 201; answer = await requestJob(runner)) {
        picked.push(json(answer).id);
        if (json(answer).id === id) break;
      }
      expect(picked).toContain(id);
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job has no tags › when runner is not allowed to pick untagged jobs › no jobs available`, async () => {
      const { p, runner } = await world({ runUntagged: false });
      await pendingJob(db, p, runner, { tagList: [] });
      await expectNoJobs(runner);
    });

    it(`${C} › when valid token is provided › when there is a pending job › when job has tags the runner does not have › no jobs available`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner, { tagList: [runner.tag, "gpu"] });
      await expectNoJobs(runner);
    });

    it(`${C} › when valid token is provided › when there is a pending job › timeout support › contains info about timeout`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner);
      const answer = await requestJob(runner);
      expect(json(answer).runner_info).toEqual({ timeout: 3600, runner_session_url: null });
    });

    it(`${C} › when valid token is provided › when there is a pending job › registry credentials support › when registry is disabled › does not send registry credentials`, async () => {
      const { p, runner } = await world();
      await pendingJob(db, p, runner);
      const answer = await requestJob(runner);
      expect(json(answer).credentials).toEqual([]);
    });
  });
});

describe(`${C} › bad inputs`, () => {
  it(`${C} › a token that is not a string › returns 400 token is invalid`, async () => {
    const answer = await call(`${server.api}/jobs/request`, { method: "POST", json: { token: ["x"] } });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "token is invalid" });
  });

  it(`${C} › job_age that is not an integer › returns 400 job_age is invalid`, async () => {
    const { runner } = await world();
    const answer = await requestJob(runner, { job_age: "soon" });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "job_age is invalid" });
  });

  // Grape reports every invalid parameter at once, joined in the order runner.rb declares them (gitlabhq
  // e8d2c257 lib/api/ci/runner.rb:90-111: token, last_update, info, session, job_age; system_id after token
  // in lib/api/ci/helpers/job_request.rb `request_job_params`), whether the validator or the route finds them.
  it.each([
    ["a body without token", { job_age: "soon" }, "", "token is missing, job_age is invalid"],
    [
      "a body of bad types",
      { token: ["x"], job_age: "soon", last_update: ["u"] },
      "",
      "token is invalid, last_update is invalid, job_age is invalid",
    ],
    [
      "a query without token",
      undefined,
      "?job_age=soon&system_id[]=s",
      "token is missing, system_id is invalid, job_age is invalid",
    ],
  ])(
    `${C} › reports every invalid parameter at once (runner.rb:90-111): %s`,
    async (_, json, query, error) => {
      const answer = await call(`${server.api}/jobs/request${query}`, { method: "POST", json });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error });
    },
  );

  it(`${C} › a user's personal access token › returns 403`, async () => {
    const p: OracleProject = await oracleProject(db);
    expect((await requestJob(p.user.token)).status).toBe(403);
  });

  it(`${C} › the token as a query parameter, as Grape reads it › picks a job`, async () => {
    const { p, runner } = await world();
    const id = await pendingJob(db, p, runner);
    const answer = await call(`${server.api}/jobs/request?token=${runner.token}`, { method: "POST" });
    expect(answer.status).toBe(201);
    expect(json(answer).id).toBe(id);
  });

  it(`${C} › two runners asking at once › never get the same job`, async () => {
    const p = await oracleProject(db);
    const runner = await oracleRunner(db);
    const other = await oracleRunner(db);
    await db.query("UPDATE runners SET tag_list = $2 WHERE id = $1", [other.id, [runner.tag]]);
    const ids = [await pendingJob(db, p, runner), await pendingJob(db, p, runner)];
    const answers = await Promise.all([requestJob(runner), requestJob(other)]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    expect(answers.map((a) => json(a).id).sort()).toEqual(ids.sort());
  });
});
