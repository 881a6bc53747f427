/** Checks of single jobs, their logs and the job-token endpoints. */
import { finishedJobStatuses } from "@jobs-api/client";
import type { Job } from "@jobs-api/types";
import { type CheckContext, differences, sameReads, unstartedStatuses, withoutClock } from "../context.js";
import { type CheckDefinition, unknownId, unknownJobCheck } from "./helpers.js";

/** How many finished jobs a check asks for their log before concluding none has one. */
const traceProbes = 10;

/** Finished jobs, those that list a log artifact first: the likeliest to have a log. */
export function traceCandidates(ctx: CheckContext): Job[] {
  const finished = ctx.available((j) => finishedJobStatuses.has(j.status));
  const hasTrace = (j: Job) => (j.artifacts ?? []).some((a) => a.file_type === "trace");
  return [...finished.filter(hasTrace), ...finished.filter((j) => !hasTrace(j))].slice(0, traceProbes);
}

const getJobChecks: CheckDefinition[] = [
  {
    id: "getJob.matchesList",
    description:
      "a finished job is the same object as in the project's list (a never-started job's queued_duration aside)",
    async run(ctx: CheckContext) {
      const jobs = ctx.available((j) => finishedJobStatuses.has(j.status)).slice(0, 3);
      if (jobs.length === 0) ctx.skip("the project has no finished job");
      for (const listed of jobs) {
        const exchange = await ctx.call("getJob", { params: { job_id: listed.id } });
        const job = ctx.ok(exchange, 200);
        ctx.expect(
          sameReads(job, listed),
          `job ${job.id} differs from the list at ${differences(withoutClock(job), withoutClock(listed)).join(", ")}`,
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

/**
 * `<op>.jobTokenRefused`: a CI job token on a route without `job_token_allowed` (jobs.rb: get job, log,
 * cancel, retry, erase, play) authenticates nobody (auth_finders.rb `find_user_from_job_token` returns
 * unless the route allows it): 401, in the header and the query.
 */
export function jobTokenRefused(op: "getJob" | "getJobTrace", description: string): CheckDefinition {
  return {
    id: `${op}.jobTokenRefused`,
    description,
    async run(ctx: CheckContext) {
      const token = jobToken(ctx);
      const id = ctx.material.jobTokenJob?.id ?? ctx.material.jobs[0]?.id;
      if (id === undefined) ctx.skip("the project has no jobs");
      for (const kind of ["jobTokenHeader", "jobTokenQuery"] as const) {
        const exchange = await ctx.call(op, { params: { job_id: id }, auth: { kind, token } });
        ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
      }
    },
  };
}

const traceChecks: CheckDefinition[] = [
  {
    id: "getJobTrace.plainText",
    description: 'a log is text/plain with Content-Disposition: infile; filename="<id>.log"',
    async run(ctx: CheckContext) {
      const candidates = traceCandidates(ctx);
      for (const job of candidates) {
        const exchange = await ctx.call("getJobTrace", { params: { job_id: job.id } });
        ctx.expect(exchange.status === 200, `status ${exchange.status}`, "status 200", exchange);
        if (exchange.text.length === 0) continue;
        ctx.expect(
          exchange.mediaType === "text/plain",
          `content type ${exchange.mediaType}`,
          "text/plain",
          exchange,
        );
        const disposition = exchange.headers.get("content-disposition");
        const expected = `infile; filename="${job.id}.log"`;
        ctx.expect(
          disposition === expected,
          `Content-Disposition: ${disposition ?? "(absent)"}`,
          expected,
          exchange,
        );
        return;
      }
      ctx.skip(`none of ${candidates.length} finished job(s) has a log`);
    },
  },
  {
    id: "getJobTrace.emptyWithoutLog",
    description: "a job that never started has an empty log, answered 200",
    async run(ctx: CheckContext) {
      const [job] = ctx.available((j) => unstartedStatuses.includes(j.status) && j.started_at === null);
      if (!job) ctx.skip("the project has no job that has not started");
      const exchange = await ctx.call("getJobTrace", { params: { job_id: job.id } });
      ctx.expect(
        exchange.status === 200 && exchange.text === "",
        `status ${exchange.status}, ${exchange.text.length} characters`,
        `status 200 and an empty body for ${job.status} job ${job.id}`,
        exchange,
      );
    },
  },
  {
    id: "getJobTrace.finishedStable",
    description: "the log of a finished job is complete: two reads give the same text",
    async run(ctx: CheckContext) {
      const candidates = traceCandidates(ctx);
      for (const job of candidates) {
        const first = await ctx.call("getJobTrace", { params: { job_id: job.id } });
        ctx.expect(first.status === 200, `status ${first.status}`, "status 200", first);
        if (first.text.length === 0) continue;
        const second = await ctx.call("getJobTrace", { params: { job_id: job.id } });
        ctx.expect(
          second.status === 200 && second.text === first.text,
          `status ${second.status}, ${second.text.length} characters where the first read had ${first.text.length}`,
          `the same log as the first read of ${job.status} job ${job.id}`,
          second,
        );
        return;
      }
      ctx.skip(`none of ${candidates.length} finished job(s) has a log`);
    },
  },
  jobTokenRefused(
    "getJobTrace",
    'a CI job token (JOB-TOKEN or job_token) answers 401 {"message":"401 Unauthorized"}: jobs.rb gives the log no job_token_allowed',
  ),
  {
    id: "getJobTrace.exactContentType",
    description:
      "a log has Content-Type: text/plain exactly and an unknown job's 404 application/json exactly, no charset (jobs.rb content_type 'text/plain'; Grape)",
    async run(ctx: CheckContext) {
      const [job] = traceCandidates(ctx);
      if (!job) ctx.skip("the project has no finished job");
      const log = await ctx.call("getJobTrace", { params: { job_id: job.id } });
      const missing = await ctx.call("getJobTrace", {
        params: { job_id: unknownId(ctx.material.jobs.map((j) => j.id)) },
      });
      for (const [exchange, expected] of [
        [log, "text/plain"],
        [missing, "application/json"],
      ] as const) {
        const type = exchange.headers.get("content-type");
        ctx.expect(
          type === expected,
          `Content-Type: ${type ?? "(absent)"}`,
          `Content-Type: ${expected}`,
          exchange,
        );
      }
    },
  },
  unknownJobCheck("getJobTrace", {
    description: 'the log of an unknown job answers 404 {"message":"404 Not found"}',
  }),
];

function jobToken(ctx: CheckContext): string {
  if (!ctx.tokens.jobToken) ctx.skip("needs a job token of a running job (--job-token)");
  return ctx.tokens.jobToken;
}

const jobTokenChecks: CheckDefinition[] = [
  {
    id: "getJobTokenJob.withJobToken",
    description: "a running job's token answers its job, the same as the project's view of it",
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("getJobTokenJob", {
        auth: { kind: "jobTokenHeader", token: jobToken(ctx) },
      });
      const job = ctx.ok(exchange, 200);
      ctx.expect(
        job.status === "running",
        `status ${job.status}`,
        "a running job (job tokens live while their job runs)",
        exchange,
      );
      const viaProject = await ctx.call("getJob", {
        params: { id: job.pipeline.project_id, job_id: job.id },
      });
      const same = ctx.ok(viaProject, 200);
      ctx.expect(
        same.id === job.id && same.name === job.name && same.pipeline.id === job.pipeline.id,
        `job ${same.id} "${same.name}" of pipeline ${same.pipeline.id}`,
        `job ${job.id} "${job.name}" of pipeline ${job.pipeline.id}`,
        viaProject,
      );
    },
  },
  {
    id: "getJobTokenJob.tokenSpellings",
    description: "the job token works as JOB-TOKEN, as job_token and as Authorization: Bearer",
    async run(ctx: CheckContext) {
      const token = jobToken(ctx);
      const reference = ctx.ok(
        await ctx.call("getJobTokenJob", { auth: { kind: "jobTokenHeader", token } }),
        200,
      );
      for (const kind of ["jobTokenQuery", "bearer"] as const) {
        const exchange = await ctx.call("getJobTokenJob", { auth: { kind, token } });
        const job = ctx.ok(exchange, 200);
        ctx.expect(job.id === reference.id, `job ${job.id}`, `job ${reference.id}`, exchange);
      }
    },
  },
  {
    id: "getJobTokenJob.personalToken",
    description: 'a personal token answers 404 {"message":"404 Job Not Found"}',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("getJobTokenJob");
      ctx.expectError(exchange, 404, { message: "404 Job Not Found" });
    },
  },
  {
    id: "getJobTokenJob.unauthenticated",
    description: 'no token, or an unknown job token, answers 401 {"message":"401 Unauthorized"}',
    async run(ctx: CheckContext) {
      for (const auth of [
        { kind: "none" },
        { kind: "jobTokenHeader", token: "conformance-invalid-job-token" },
      ] as const) {
        const exchange = await ctx.call("getJobTokenJob", { auth });
        ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
      }
    },
  },
  {
    id: "getJobTokenAllowedAgents.withJobToken",
    description: "a running job's token answers its job, pipeline and project with the allowed agents",
    async run(ctx: CheckContext) {
      const token = jobToken(ctx);
      const job = ctx.ok(await ctx.call("getJobTokenJob", { auth: { kind: "jobTokenHeader", token } }), 200);
      const exchange = await ctx.call("getJobTokenAllowedAgents", {
        auth: { kind: "jobTokenHeader", token },
      });
      const agents = ctx.ok(exchange, 200);
      ctx.expect(
        agents.job.id === job.id &&
          agents.pipeline.id === job.pipeline.id &&
          agents.project.id === job.pipeline.project_id &&
          agents.user.id === job.user?.id,
        `job ${agents.job.id}, pipeline ${agents.pipeline.id}, project ${agents.project.id}, user ${agents.user.id}`,
        `job ${job.id}, pipeline ${job.pipeline.id}, project ${job.pipeline.project_id}, user ${job.user?.id} (as GET /job says)`,
        exchange,
      );
      // Every role up to the user's, in GitLab's order (`Gitlab::Access.sym_options_with_owner`).
      const order = ["guest", "planner", "reporter", "developer", "maintainer", "owner"];
      const ranks = agents.user.roles_in_project.map((role) => order.indexOf(role));
      ctx.expect(
        ranks.every((rank, i) => i === 0 || rank > (ranks[i - 1] ?? -1)) &&
          (ranks.length === 0 || ranks[0] === 0),
        `roles_in_project ${JSON.stringify(agents.user.roles_in_project)}`,
        "the roles from guest up to the user's, lowest first",
        exchange,
      );
    },
  },
  {
    id: "getJobTokenAllowedAgents.personalToken",
    description: 'a personal token answers 404 {"message":"404 Job Not Found"}',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("getJobTokenAllowedAgents");
      ctx.expectError(exchange, 404, { message: "404 Job Not Found" });
    },
  },
];

export const jobChecks: CheckDefinition[] = [...getJobChecks, ...traceChecks, ...jobTokenChecks];
