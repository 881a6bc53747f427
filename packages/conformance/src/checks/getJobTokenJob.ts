/** Checks of getJobTokenJob: the job of a CI job token. */
import type { CheckContext } from "../context.js";
import type { CheckDefinition } from "./helpers.js";
import { jobToken } from "./job-helpers.js";

export const getJobTokenJobChecks: CheckDefinition[] = [
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
];
