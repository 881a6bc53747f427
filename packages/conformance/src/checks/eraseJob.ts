/** Checks of eraseJob: a finished job loses its log and artifacts, a running one is refused. Destructive. */
import type { Job } from "@jobs-api/types";
import type { CheckContext } from "../context.js";
import { current, expectStoredStatus, jobTokenRefused } from "./action-helpers.js";
import { type CheckDefinition, unknownJobCheck } from "./helpers.js";
import { traceCandidates } from "./job-helpers.js";

export const eraseJobChecks: CheckDefinition[] = [
  {
    id: "eraseJob.removesTraceAndArtifacts",
    description: "erase answers 201; the log and artifacts are gone and erased_at is set",
    destructive: true,
    async run(ctx: CheckContext) {
      let job: Job | undefined;
      for (const candidate of traceCandidates(ctx)) {
        const trace = await ctx.call("getJobTrace", { params: { job_id: candidate.id } });
        if (trace.status === 200 && trace.text.length > 0) {
          job = candidate;
          break;
        }
      }
      if (!job) ctx.skip("no finished job with a log was found");
      ctx.material.claimed.add(job.id);
      const exchange = await ctx.call("eraseJob", { params: { job_id: job.id } });
      const erased = ctx.ok(exchange, 201);
      ctx.expect(
        typeof erased.erased_at === "string" &&
          (erased.artifacts ?? []).length === 0 &&
          erased.artifacts_file === undefined &&
          (erased.artifacts_expire_at ?? null) === null,
        `erased_at ${erased.erased_at}, ${(erased.artifacts ?? []).length} artifacts, artifacts_file ${erased.artifacts_file ? "present" : "absent"}, artifacts_expire_at ${erased.artifacts_expire_at}`,
        "erased_at set, no artifacts, no artifacts_file, artifacts_expire_at null",
        exchange,
      );
      const trace = await ctx.call("getJobTrace", { params: { job_id: job.id } });
      ctx.expect(
        trace.status === 200 && trace.text === "",
        `the log answers status ${trace.status} with ${trace.text.length} characters`,
        "status 200 and an empty log",
        trace,
      );
      const [after, afterExchange] = await current(ctx, job.id);
      ctx.expect(
        typeof after.erased_at === "string" && (after.artifacts ?? []).length === 0,
        `GET answers erased_at ${after.erased_at}, ${(after.artifacts ?? []).length} artifacts`,
        "erased_at set and no artifacts",
        afterExchange,
      );
    },
  },
  {
    id: "eraseJob.runningRefused",
    description: 'erase of a running job answers 403 {"message":"403 Forbidden - Job is not erasable!"}',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["running"]);
      const exchange = await ctx.call("eraseJob", { params: { job_id: job.id } });
      ctx.expectError(exchange, 403, { message: "403 Forbidden - Job is not erasable!" });
      await expectStoredStatus(ctx, job.id, "running", ", unchanged");
    },
  },
  jobTokenRefused("eraseJob", ["success", "failed"], "erase"),
  unknownJobCheck("eraseJob", { destructive: true }),
];
