/** Checks of eraseJob: a finished job loses its log and artifacts, a running one is refused. Destructive. */
import { COMPLETED_STATUSES, type Job } from "@jobs-api/types";
import type { CheckContext, OpExchange } from "../context.js";
import { roleName } from "../preflight.js";
import { current, jobTokenRefused } from "./action-helpers.js";
import { type CheckDefinition, unknownJobCheck } from "./helpers.js";
import { traceCandidates } from "./job-helpers.js";

/** `Gitlab::Access::MAINTAINER`: the role that may `admin_build`, and so erase any job. */
const maintainer = 40;

/**
 * GitLab lets a user erase a job when they may `admin_build` (Maintainer), or may `update_build` (Developer)
 * and started the job themselves, on a ref that is not protected (app/policies/ci/build_policy.rb
 * `rule { can?(:admin_build) | (can?(:update_build) & owner_of_job & unprotected_ref) }.enable :erase_build`),
 * and jobs.rb erase asks `authorize!(:erase_build, build)` before `erasable?`. So a token not known to be a
 * Maintainer's is rightly refused 403 {"message":"403 Forbidden"} on another user's job (or a protected
 * ref's): the check cannot tell, and skips.
 */
function skipUnlessMayErase(ctx: CheckContext, exchange: OpExchange<"eraseJob">, job: Job): void {
  const level = ctx.material.accessLevel;
  if (exchange.status !== 403 || (level ?? 0) >= maintainer) return;
  if ((exchange.json as { message?: unknown } | undefined)?.message !== "403 Forbidden") return;
  const role = level === undefined ? "a role the preflight could not read" : roleName(level);
  ctx.skip(
    `erase of job ${job.id} (started by ${job.user?.username ?? "someone else"}, ref ${job.ref}) was forbidden to the token (${role}): GitLab lets only a Maintainer erase another user's jobs or a protected ref's (build_policy.rb erase_build)`,
  );
}

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
      skipUnlessMayErase(ctx, exchange, job);
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
    description:
      'erase of a running job answers 403 {"message":"403 Forbidden - Job is not erasable!"}, or 201 only for a job that has finished since and is erased',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["running"]);
      const exchange = await ctx.call("eraseJob", { params: { job_id: job.id } });
      skipUnlessMayErase(ctx, exchange, job);
      if (exchange.status === 201) {
        // The job's runner may finish it between the listing and the erase: build.rb `erasable?` is
        // `complete? && (artifacts? || has_job_artifacts? || has_trace?)`, so GitLab then erases it. Only a
        // job that is finished (and so erased) now can have been erased rightly.
        const [after, afterExchange] = await current(ctx, job.id);
        ctx.expect(
          COMPLETED_STATUSES.includes(after.status) && typeof after.erased_at === "string",
          `erase answered 201; GET answers status ${after.status}, erased_at ${after.erased_at}`,
          '403 {"message":"403 Forbidden - Job is not erasable!"}, or, for a job that finished before the erase, 201 and the job finished and erased',
          afterExchange,
        );
        return;
      }
      ctx.expectError(exchange, 403, { message: "403 Forbidden - Job is not erasable!" });
      // Not erased; its runner may finish it after the refusal, though.
      const [after, afterExchange] = await current(ctx, job.id);
      ctx.expect(
        ["running", "success", "failed"].includes(after.status) && after.erased_at === null,
        `GET answers status ${after.status}, erased_at ${after.erased_at}`,
        "the job not erased (erased_at null), running or finished since by its runner",
        afterExchange,
      );
    },
  },
  jobTokenRefused("eraseJob", ["success", "failed"], "erase"),
  unknownJobCheck("eraseJob", { destructive: true }),
];
