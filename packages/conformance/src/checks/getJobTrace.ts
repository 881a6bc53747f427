/** Checks of getJobTrace: a job's log. */
import { type CheckContext, unstartedStatuses } from "../context.js";
import { type CheckDefinition, unknownId, unknownJobCheck } from "./helpers.js";
import { jobTokenRefused, traceCandidates } from "./job-helpers.js";

export const getJobTraceChecks: CheckDefinition[] = [
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
