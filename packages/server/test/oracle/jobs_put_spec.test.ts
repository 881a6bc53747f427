// Oracle: GitLab's spec/requests/api/ci/runner/jobs_put_spec.rb (gitlabhq 017a6c12), context by context,
// against the reference server. Each test builds its own project, runner and job; the facts asserted are
// GitLab's.
//
// Skipped contexts (features the server does not model):
// - application context metadata, runner migrations backoff, composite identity (Sidekiq).
// - when an exit_code is provided › allow_failure_criteria: jobs have no `allow_failure: exit_codes`; the exit
//   code is accepted and the job fails as in "ignore the exit code".
// - when unmigrated live trace chunks exist › when checksum is present (202, then 200): logs are stored at
//   once, never as live chunks, so every update with a checksum is the "migrated" case (200).

import { describe, expect, it } from "vitest";
import { type Database, type DemoServer, store } from "../../src/index.js";
import { call, serveForFile } from "../helpers/server.js";
import { jobState, oracleRunner, pickedJob } from "./runner-world.js";
import { FORBIDDEN, oracleProject } from "./world.js";

let db: Database;
let server: DemoServer;
serveForFile((d, s) => {
  db = d;
  server = s;
});

const F = "jobs_put_spec.rb";
const C = `${F} › PUT /api/v4/jobs/:id`;

/** GitLab's `:ci_build, :pending, :trace_live` of the runner, then `job.run!` (here: the runner picks it). */
async function runningJob() {
  const p = await oracleProject(db);
  const runner = await oracleRunner(db);
  const job = await pickedJob(db, server.api, p, runner);
  return { p, runner, job };
}

const updateJob = (id: number | string, token: string | undefined, params: Record<string, unknown> = {}) =>
  call(`${server.api}/jobs/${id}`, {
    method: "PUT",
    json: token === undefined ? params : { token, ...params },
  });

describe(C, () => {
  it(`${C} › updates runner info`, async () => {
    const { runner, job } = await runningJob();
    await db.query("UPDATE runners SET contacted_at = now() - interval '1 year' WHERE id = $1", [runner.id]);
    await updateJob(job.id, job.token, { state: "success" });
    const [row] = await db.query<{ recent: boolean }>(
      "SELECT contacted_at > now() - interval '1 minute' AS recent FROM runners WHERE id = $1",
      [runner.id],
    );
    expect(row?.recent).toBe(true);
  });

  it(`${C} › when status is given › marks job as succeeded`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "success" });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("200");
    expect(answer.headers.get("job-status")).toBe("success");
    expect(answer.headers.has("x-gitlab-trace-update-interval")).toBe(false);
    const row = await jobState(db, job.id);
    expect(row.status).toBe("success");
    expect(row.finished_at).not.toBeNull();
  });

  it(`${C} › when status is given › marks job as failed`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "failed" });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("job-status")).toBe("failed");
    expect(answer.headers.has("x-gitlab-trace-update-interval")).toBe(false);
    expect(await jobState(db, job.id)).toMatchObject({ status: "failed", failure_reason: "unknown_failure" });
  });

  it(`${C} › when status is given › when runner sends an unrecognized field in a payload › ignores unrecognized fields`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "success", unknown: "something" });
    expect(answer.status).toBe(200);
    expect((await jobState(db, job.id)).status).toBe("success");
  });

  it(`${C} › when status is given › when an exit_code is provided › when the exit_codes are not acceptable › ignore the exit code`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "failed", exit_code: 2 });
    expect(answer.status).toBe(200);
    expect(await jobState(db, job.id)).toMatchObject({ status: "failed", failure_reason: "unknown_failure" });
  });

  it.each([
    ["script_failure", "script_failure"],
    ["runner_system_failure", "runner_system_failure"],
    ["unrecognized value", "unknown_failure"],
    ["job_execution_timeout", "job_execution_timeout"],
    ["unmet_prerequisites", "unmet_prerequisites"],
  ])(`${C} › when status is given › when failure_reason is %s`, async (reason, recorded) => {
    const { job } = await runningJob();
    const sent = reason === "unrecognized value" ? "what_is_this" : reason;
    await updateJob(job.id, job.token, { state: "failed", failure_reason: sent });
    expect(await jobState(db, job.id)).toMatchObject({ status: "failed", failure_reason: recorded });
  });

  it(`${C} › when status is given › when unmigrated live trace chunks exist › when checksum is not present › responds with 200`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "success" });
    expect(answer.status).toBe(200);
    expect((await jobState(db, job.id)).status).toBe("success");
  });

  it(`${C} › when status is given › when the log is stored (live trace chunk has been migrated) › responds with 200`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, {
      state: "success",
      checksum: "crc:12345678",
      output: { checksum: "crc32:12345678", bytesize: 0 },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.has("x-gitlab-trace-update-interval")).toBe(false);
    expect((await jobState(db, job.id)).status).toBe("success");
  });

  it(`${C} › when job has been erased › responds with forbidden`, async () => {
    const { job } = await runningJob();
    await db.query("UPDATE jobs SET erased_at = now() WHERE id = $1", [job.id]);
    const answer = await updateJob(job.id, job.token, { state: "success" });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "403 Forbidden - Job has been erased!" });
  });

  it(`${C} › when job has already been finished › does not update job status`, async () => {
    const { job } = await runningJob();
    await updateJob(job.id, job.token, { state: "failed", failure_reason: "script_failure" });
    const answer = await updateJob(job.id, job.token, { state: "success" });
    expect(answer.status).toBe(403);
    expect(answer.headers.get("job-status")).toBe("failed");
    expect(answer.body).toEqual({ message: "403 Forbidden - Job is not running" });
    expect((await jobState(db, job.id)).status).toBe("failed");
  });

  it(`${C} › when job is canceled › returns :forbidden with the job status`, async () => {
    const { p, job } = await runningJob();
    const cancel = await call(`${server.api}/projects/${p.id}/jobs/${job.id}/cancel`, {
      method: "POST",
      token: p.user.token,
    });
    expect(cancel.status).toBe(201);
    const answer = await updateJob(job.id, job.token, { state: "running" });
    expect(answer.status).toBe(403);
    expect(answer.headers.get("job-status")).toBe("canceled");
    expect((await jobState(db, job.id)).status).toBe("canceled");
  });

  it(`${C} › when job is canceling › returns :ok with the job status`, async () => {
    const { job } = await runningJob();
    await db.query("UPDATE jobs SET status = 'canceling' WHERE id = $1", [job.id]);
    const answer = await updateJob(job.id, job.token, { state: "running" });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("job-status")).toBe("canceling");
    expect((await jobState(db, job.id)).status).toBe("canceling");
  });

  it(`${C} › when job is canceling › the runner's final state ends it canceled (drop/success: canceling → canceled)`, async () => {
    const { job } = await runningJob();
    await db.query("UPDATE jobs SET status = 'canceling' WHERE id = $1", [job.id]);
    const answer = await updateJob(job.id, job.token, { state: "failed", failure_reason: "script_failure" });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("job-status")).toBe("canceled");
    expect(await jobState(db, job.id)).toMatchObject({ status: "canceled", failure_reason: null });
  });

  it(`${C} › when job does not exist anymore › returns 403 Forbidden`, async () => {
    const answer = await updateJob(2_000_000_000, "glcbt-whatever", { state: "success" });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });
});

describe(`${C} › bad inputs`, () => {
  it(`${C} › without token › returns 400 token is missing (Grape's requires :token)`, async () => {
    const { job } = await runningJob();
    const answer = await call(`${server.api}/jobs/${job.id}`, {
      method: "PUT",
      headers: { "JOB-TOKEN": job.token },
      json: { state: "success" },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "token is missing" });
    expect((await jobState(db, job.id)).status).toBe("running");
  });

  it(`${C} › with another job's token › returns 403`, async () => {
    const { job } = await runningJob();
    const other = await runningJob();
    const answer = await updateJob(job.id, other.job.token, { state: "success" });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
    expect(answer.headers.has("job-status")).toBe(false);
  });

  it(`${C} › with an unknown state › returns 400 with the body "400" and the job unchanged`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "exploded" });
    expect(answer.status).toBe(400);
    expect(answer.body).toBe("400");
    expect(answer.headers.get("job-status")).toBe("running");
    expect((await jobState(db, job.id)).status).toBe("running");
  });

  it(`${C} › without state › returns 400 (UpdateBuildStateService: an empty state is none of its own)`, async () => {
    const { job } = await runningJob();
    expect((await updateJob(job.id, job.token)).status).toBe(400);
  });

  it(`${C} › with an exit_code that is not an integer › returns 400 exit_code is invalid`, async () => {
    const { job } = await runningJob();
    const answer = await updateJob(job.id, job.token, { state: "failed", exit_code: "one" });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "exit_code is invalid" });
  });

  it(`${C} › with a job id that is not an integer › returns 400 id is invalid`, async () => {
    const answer = await updateJob("abc", "glcbt-whatever", { state: "success" });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "id is invalid" });
  });

  // Grape reports every invalid parameter at once, joined in the order runner.rb declares them (gitlabhq
  // e8d2c257 lib/api/ci/runner.rb:168-179: token, id, state, checksum, failure_reason, output, exit_code),
  // whether the validator or the route finds them; the job is left as it was.
  it.each([
    [
      "a body without token",
      { state: "failed", exit_code: "one" },
      "",
      "token is missing, exit_code is invalid",
    ],
    [
      "a body of bad types",
      { token: ["x"], exit_code: "one", failure_reason: ["f"], checksum: ["c"] },
      "",
      "token is invalid, checksum is invalid, failure_reason is invalid, exit_code is invalid",
    ],
    [
      "a query without token",
      undefined,
      "?exit_code=one&state[]=success",
      "token is missing, state is invalid, exit_code is invalid",
    ],
  ])(
    `${C} › reports every invalid parameter at once (runner.rb:168-179): %s`,
    async (_, json, query, error) => {
      const { job } = await runningJob();
      const answer = await call(`${server.api}/jobs/${job.id}${query}`, {
        method: "PUT",
        headers: { "JOB-TOKEN": job.token },
        json,
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error });
      expect((await jobState(db, job.id)).status).toBe("running");
    },
  );

  it(`${C} › a job id that is not an integer and no token › names token first, as runner.rb:169-170 declares them`, async () => {
    for (const [json, error] of [
      [{ state: "success" }, "token is missing, id is invalid"],
      [{ token: ["x"], exit_code: "one" }, "token is invalid, id is invalid, exit_code is invalid"],
    ] as const) {
      const answer = await call(`${server.api}/jobs/abc`, { method: "PUT", json });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error });
    }
  });

  it(`${C} › a form body, as Grape reads it › marks job as succeeded`, async () => {
    const { job } = await runningJob();
    const answer = await call(`${server.api}/jobs/${job.id}`, {
      method: "PUT",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `token=${encodeURIComponent(job.token)}&state=success&exit_code=0`,
    });
    expect(answer.status).toBe(200);
    expect((await jobState(db, job.id)).status).toBe("success");
  });

  it(`${C} › a trigger job (bridge) is never a runner's › returns 403`, async () => {
    const p = await oracleProject(db);
    const id = await store.createJob(db, {
      pipelineId: p.pipelineId,
      name: "trigger",
      status: "running",
      type: "bridge",
    });
    await store.createJobToken(db, id, `glcbt-bridge-${id}`);
    expect((await updateJob(id, `glcbt-bridge-${id}`, { state: "success" })).status).toBe(403);
  });
});
