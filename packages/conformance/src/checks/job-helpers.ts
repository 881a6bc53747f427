/** What the checks of one job, its log and the job token operations share. */
import { finishedJobStatuses } from "@jobs-api/client";
import type { Job } from "@jobs-api/types";
import type { CheckContext } from "../context.js";
import type { CheckDefinition } from "./helpers.js";

/** How many finished jobs a check asks for their log before concluding none has one. */
const traceProbes = 10;

/** Finished jobs, those that list a log artifact first: the likeliest to have a log. */
export function traceCandidates(ctx: CheckContext): Job[] {
  const finished = ctx.available((j) => finishedJobStatuses.has(j.status));
  const hasTrace = (j: Job) => (j.artifacts ?? []).some((a) => a.file_type === "trace");
  return [...finished.filter(hasTrace), ...finished.filter((j) => !hasTrace(j))].slice(0, traceProbes);
}

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

export function jobToken(ctx: CheckContext): string {
  if (!ctx.tokens.jobToken) ctx.skip("needs a job token of a running job (--job-token)");
  return ctx.tokens.jobToken;
}
