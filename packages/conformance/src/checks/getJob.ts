/** Checks of getJob: one job. */
import { finishedJobStatuses } from "@jobs-api/client";
import { type CheckContext, differences, jobChanges, sameReads, withoutClock } from "../context.js";
import { type CheckDefinition, unknownJobCheck } from "./helpers.js";
import { jobTokenRefused } from "./job-helpers.js";

export const getJobChecks: CheckDefinition[] = [
  {
    id: "getJob.matchesList",
    description:
      "a finished job is the same object as in the project's list (a never-started job's queued_duration, its pipeline's status and updated_at, and a log artifact archived since aside)",
    async run(ctx: CheckContext) {
      const jobs = ctx.available((j) => finishedJobStatuses.has(j.status)).slice(0, 3);
      if (jobs.length === 0) ctx.skip("the project has no finished job");
      for (const listed of jobs) {
        const exchange = await ctx.call("getJob", { params: { job_id: listed.id } });
        const job = ctx.ok(exchange, 200);
        // Only what a finished job keeps: its pipeline's status and a log artifact may come later (jobChanges).
        const changed = jobChanges(job, listed);
        ctx.expect(
          changed.length === 0,
          `job ${job.id} differs from the list at ${changed.join(", ")}`,
          `the list's job ${listed.id}`,
          exchange,
        );
      }
    },
  },
  {
    id: "getJob.idsMatchUrl",
    description:
      "a job answers with the id asked for, its project's id, and web_urls ending in its own and its pipeline's id",
    async run(ctx: CheckContext) {
      const unfinished = ctx.available((j) => !finishedJobStatuses.has(j.status)).slice(0, 2);
      const finished = ctx.available((j) => finishedJobStatuses.has(j.status)).slice(0, 1);
      const jobs = [...unfinished, ...finished];
      if (jobs.length === 0) ctx.skip("the project has no jobs");
      const { id: projectId, path } = ctx.material.project;
      for (const { id } of jobs) {
        const exchange = await ctx.call("getJob", { params: { job_id: id } });
        const job = ctx.ok(exchange, 200);
        const jobPath = new URL(job.web_url, ctx.http.baseUrl).pathname;
        const pipelineUrl = job.pipeline.web_url;
        const pipelinePath = pipelineUrl ? new URL(pipelineUrl, ctx.http.baseUrl).pathname : undefined;
        const problems = [
          job.id !== id && `id ${job.id}`,
          projectId !== undefined &&
            job.pipeline.project_id !== projectId &&
            `pipeline.project_id ${job.pipeline.project_id}`,
          !jobPath.endsWith(`/-/jobs/${id}`) && `web_url ${job.web_url}`,
          path !== undefined &&
            !decodeURIComponent(jobPath).includes(`/${path}/-/jobs/`) &&
            `web_url ${job.web_url} outside ${path}`,
          pipelinePath !== undefined &&
            !pipelinePath.endsWith(`/-/pipelines/${job.pipeline.id}`) &&
            `pipeline.web_url ${job.pipeline.web_url}`,
        ].filter((p): p is string => typeof p === "string");
        ctx.expect(
          problems.length === 0,
          problems.join(", "),
          `job ${id} of project ${projectId ?? ctx.material.project.given}, web_url …${path ? `/${path}` : ""}/-/jobs/${id}, pipeline.web_url …/-/pipelines/${job.pipeline.id}`,
          exchange,
        );
      }
    },
  },
  unknownJobCheck("getJob"),
  {
    id: "getJob.invalidId",
    description: 'a job id that is not a number answers 400 {"error":"job_id is invalid"}',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("getJob", { params: { job_id: "not-a-number" } });
      ctx.expectError(exchange, 400, { error: "job_id is invalid" });
    },
  },
  {
    id: "getJob.pathIdSameAnswer",
    description: "the URL-encoded project path gives the same job as the numeric id",
    async run(ctx: CheckContext) {
      const { id, path } = ctx.material.project;
      const [job] = ctx.available((j) => finishedJobStatuses.has(j.status));
      if (id === undefined || path === undefined || !job) ctx.skip("the project has no finished job");
      const numeric = await ctx.call("getJob", { params: { id, job_id: job.id } });
      const byPath = await ctx.call("getJob", { params: { id: path, job_id: job.id } });
      ctx.expect(
        numeric.status === 200 && byPath.status === 200 && sameReads(byPath.json, numeric.json),
        byPath.status === 200
          ? `a different job at ${differences(withoutClock(byPath.json), withoutClock(numeric.json)).join(", ")}`
          : `status ${byPath.status}`,
        `the same job as for project ${id}`,
        byPath,
      );
    },
  },
  {
    id: "getJob.unauthenticated",
    description: 'no token answers 401 {"message":"401 Unauthorized"}',
    async run(ctx: CheckContext) {
      const [job] = ctx.material.jobs;
      const exchange = await ctx.call("getJob", { params: { job_id: job?.id ?? 1 }, auth: { kind: "none" } });
      ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
    },
  },
  jobTokenRefused(
    "getJob",
    'a CI job token (JOB-TOKEN or job_token), even its own job\'s, answers 401 {"message":"401 Unauthorized"}: jobs.rb gives this route no job_token_allowed',
  ),
];
