// Oracle: GitLab's spec/requests/api/ci/runner/jobs_trace_spec.rb (gitlabhq 0024c2f4), context by context,
// against the reference server. Each test builds its own project, runner and job, and starts as GitLab's
// does: `BUILD TRACE` stored, then ` appended` patched at 11-20. The facts asserted are GitLab's.
//
// Skipped contexts (features the server does not model):
// - application context metadata; when job has been updated recently / not updated recently (`updated_at`,
//   which jobs do not have): the trace assertions of both are covered once.
// - when project for the build has been deleted: projects are never deleted.
// - when redis data are flushed, when concurrent update of trace is happening (409), when build trace is
//   being watched (3): logs are stored at once in the database and API reads do not count as watching.
// - when the job log is too big: no instance limits.

import { describe, expect, it } from "vitest";
import { type Database, type DemoServer, store } from "../../src/index.js";
import { call, serveForFile } from "../helpers/server.js";
import { oracleRunner, pickedJob } from "./runner-world.js";
import { FORBIDDEN, type OracleProject, oracleProject } from "./world.js";

let db: Database;
let server: DemoServer;
serveForFile((d, s) => {
  db = d;
  server = s;
});

const F = "jobs_trace_spec.rb";
const C = `${F} › PATCH /api/v4/jobs/:id/trace`;

const patchTrace = (id: number | string, content: string, headers: Record<string, string>) =>
  call(`${server.api}/jobs/${id}/trace`, {
    method: "PATCH",
    headers: { "Content-Type": "text/plain", ...headers },
    body: content,
  });

const log = async (id: number) =>
  (await db.query<{ content: string }>("SELECT content FROM job_traces WHERE job_id = $1", [id]))[0]
    ?.content ?? "";

/** `:ci_build, :running, :trace_live` of the runner: a job it picked, whose stored log is `BUILD TRACE`. */
async function liveTraceJob(): Promise<{ p: OracleProject; id: number; token: string }> {
  const p = await oracleProject(db);
  const runner = await oracleRunner(db);
  const job = await pickedJob(db, server.api, p, runner);
  await store.setTrace(db, job.id, "BUILD TRACE");
  return { p, ...job };
}

/** {@link liveTraceJob}, then the spec's `initial_patch_the_trace`. */
async function tracedJob(): Promise<{
  p: OracleProject;
  id: number;
  token: string;
  initial: Awaited<ReturnType<typeof patchTrace>>;
}> {
  const job = await liveTraceJob();
  const initial = await patchTrace(job.id, " appended", { "JOB-TOKEN": job.token, "Content-Range": "11-20" });
  return { ...job, initial };
}

/** The spec's `patch_the_trace`: the next piece, at the log's end. */
async function patchTheTrace(id: number, token: string, content = " appended") {
  const offset = Buffer.byteLength(await log(id));
  return patchTrace(id, content, {
    "JOB-TOKEN": token,
    "Content-Range": `${offset}-${offset + Buffer.byteLength(content) - 1}`,
  });
}

describe(C, () => {
  it(`${C} › updates runner info`, async () => {
    const { id, token } = await tracedJob();
    await db.query(
      "UPDATE runners SET contacted_at = now() - interval '1 year' WHERE id = (SELECT runner_id FROM jobs WHERE id = $1)",
      [id],
    );
    await patchTheTrace(id, token);
    const [row] = await db.query<{ recent: boolean }>(
      "SELECT r.contacted_at > now() - interval '1 minute' AS recent FROM runners r JOIN jobs j ON j.runner_id = r.id WHERE j.id = $1",
      [id],
    );
    expect(row?.recent).toBe(true);
  });

  it(`${C} › when request is valid › gets correct response`, async () => {
    const { id, initial } = await tracedJob();
    expect(initial.status).toBe(202);
    expect(await log(id)).toBe("BUILD TRACE appended");
    expect(initial.headers.get("range")).toBe("0-20");
    expect(initial.headers.get("job-status")).toBe("running");
    expect(initial.headers.has("x-gitlab-trace-update-interval")).toBe(true);
  });

  it(`${C} › when request is valid › changes the job's trace`, async () => {
    const { id, token } = await tracedJob();
    await patchTheTrace(id, token);
    expect(await log(id)).toBe("BUILD TRACE appended appended");
  });

  it(`${C} › when request is valid › when Runner makes a force-patch › doesn't change the build.trace`, async () => {
    const { id, token } = await tracedJob();
    for (const _ of [1, 2]) expect((await patchTheTrace(id, token, "")).status).toBe(202);
    expect(await log(id)).toBe("BUILD TRACE appended");
  });

  it(`${C} › when request is valid › when trace is patched › has valid trace`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTheTrace(id, token);
    expect(answer.status).toBe(202);
    expect(await log(id)).toBe("BUILD TRACE appended appended");
  });

  it(`${C} › when request is valid › when trace is patched › when job is cancelled › when trace is patched › returns Forbidden`, async () => {
    const { p, id, token } = await tracedJob();
    await patchTheTrace(id, token);
    await call(`${server.api}/projects/${p.id}/jobs/${id}/cancel`, { method: "POST", token: p.user.token });
    const answer = await patchTheTrace(id, token);
    expect(answer.status).toBe(403);
    expect(await log(id)).toBe("BUILD TRACE appended appended");
  });

  it(`${C} › when request is valid › when the job is canceled › receives status in header`, async () => {
    const { p, id, token } = await tracedJob();
    await call(`${server.api}/projects/${p.id}/jobs/${id}/cancel`, { method: "POST", token: p.user.token });
    const answer = await patchTheTrace(id, token);
    expect(answer.headers.get("job-status")).toBe("canceled");
    expect(answer.body).toEqual({ message: "403 Forbidden - Job is not running" });
  });

  it(`${C} › when request is valid › when build trace is not being watched › returns the interval in X-GitLab-Trace-Update-Interval`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTheTrace(id, token);
    expect(answer.status).toBe(202);
    expect(answer.headers.get("x-gitlab-trace-update-interval")).toBe("60");
  });

  it(`${C} › when job does not exist anymore › returns 403 Forbidden`, async () => {
    const { token } = await tracedJob();
    const answer = await patchTrace(2_000_000_000, " appended", {
      "JOB-TOKEN": token,
      "Content-Range": "0-8",
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${C} › when Runner makes a force-patch › gets correct response`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTheTrace(id, token, "");
    expect(answer.status).toBe(202);
    expect(await log(id)).toBe("BUILD TRACE appended");
    expect(answer.headers.has("range")).toBe(true);
    expect(answer.headers.has("job-status")).toBe(true);
  });

  it(`${C} › when content-range start is too big › gets 416 error response with range headers`, async () => {
    const job = await liveTraceJob();
    const answer = await patchTrace(job.id, " appended", {
      "JOB-TOKEN": job.token,
      "Content-Range": "15-20/6",
    });
    expect(answer.status).toBe(416);
    expect(answer.headers.get("range")).toBe("0-11");
    expect(answer.body).toEqual({ error: "416 Range Not Satisfiable" });
    expect(await log(job.id)).toBe("BUILD TRACE");
  });

  it(`${C} › when content-range start is too small › gets 416 error response with range headers`, async () => {
    const job = await liveTraceJob();
    const answer = await patchTrace(job.id, " appended", {
      "JOB-TOKEN": job.token,
      "Content-Range": "8-20/13",
    });
    expect(answer.status).toBe(416);
    expect(answer.headers.get("range")).toBe("0-11");
  });

  it(`${C} › when Content-Range header is missing › returns 400`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTrace(id, " appended", { "JOB-TOKEN": token });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "400 Missing header Content-Range" });
  });

  it(`${C} › when job has been errased › returns 403`, async () => {
    const { id, token } = await tracedJob();
    await db.query("UPDATE jobs SET erased_at = now() WHERE id = $1", [id]);
    const answer = await patchTheTrace(id, token);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "403 Forbidden - Job has been erased!" });
  });
});

describe(`${C} › bad inputs`, () => {
  it(`${C} › without a token (and without Content-Range) › returns 403 before looking at the range`, async () => {
    const { id } = await tracedJob();
    const answer = await patchTrace(id, " appended", {});
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual(FORBIDDEN);
  });

  it(`${C} › with a wrong token › returns 403 and leaves the log alone`, async () => {
    const { id } = await tracedJob();
    const answer = await patchTrace(id, " appended", {
      "JOB-TOKEN": "glcbt-wrong",
      "Content-Range": "20-28",
    });
    expect(answer.status).toBe(403);
    expect(await log(id)).toBe("BUILD TRACE appended");
  });

  it(`${C} › with the token as the token parameter (job_token reads params first) › appends`, async () => {
    const { id, token } = await tracedJob();
    const answer = await call(`${server.api}/jobs/${id}/trace?token=${encodeURIComponent(token)}`, {
      method: "PATCH",
      headers: { "Content-Range": "20-28" },
      body: " appended",
    });
    expect(answer.status).toBe(202);
    expect(await log(id)).toBe("BUILD TRACE appended appended");
  });

  it(`${C} › a piece in any media type (request.body.read) › appends it as it is`, async () => {
    const { id, token } = await tracedJob();
    const piece = '{"not": "parameters"}';
    const answer = await call(`${server.api}/jobs/${id}/trace`, {
      method: "PATCH",
      headers: { "JOB-TOKEN": token, "Content-Range": "20-40", "Content-Type": "application/json" },
      body: piece,
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get("range")).toBe("0-41");
    expect(await log(id)).toBe(`BUILD TRACE appended${piece}`);
  });

  it(`${C} › multi-byte characters › the range counts bytes`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTheTrace(id, token, " Deploying… ✓");
    expect(answer.status).toBe(202);
    expect(answer.headers.get("range")).toBe(`0-${20 + Buffer.byteLength(" Deploying… ✓")}`);
    expect((await patchTheTrace(id, token, "\n")).status).toBe(202);
  });

  it(`${C} › a Content-Range that is not a range › starts at 0 (Ruby's to_i), so 416 with where the log ends`, async () => {
    const { id, token } = await tracedJob();
    const answer = await patchTrace(id, "x", { "JOB-TOKEN": token, "Content-Range": "bytes=garbage" });
    expect(answer.status).toBe(416);
    expect(answer.headers.get("range")).toBe("0-20");
  });

  it(`${C} › a job id that is not an integer › returns 400 id is invalid`, async () => {
    const answer = await patchTrace("abc", "x", { "JOB-TOKEN": "glcbt-x", "Content-Range": "0-0" });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "id is invalid" });
  });

  it(`${C} › a job id that is not an integer and a token that is not a string › returns 400 naming both (runner.rb:203-206)`, async () => {
    // gitlabhq e8d2c257 lib/api/ci/runner.rb:203-206 declares `requires :id, type: Integer`, then
    // `optional :token, type: String`: Grape reports both, in that order.
    const answer = await call(`${server.api}/jobs/abc/trace?token[]=x`, {
      method: "PATCH",
      headers: { "Content-Type": "text/plain", "Content-Range": "0-0" },
      body: "x",
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "id is invalid, token is invalid" });
  });
});
