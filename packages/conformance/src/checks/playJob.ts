/** Checks of playJob: a manual job starts, any other is refused. Destructive. */
import type { CheckContext, OpExchange } from "../context.js";
import {
  current,
  enqueued,
  enqueuedOrLater,
  expectLeftAlone,
  expectStoredStatus,
  inProgress,
  jobTokenRefused,
} from "./action-helpers.js";
import { type CheckDefinition, unknownJobCheck } from "./helpers.js";

/**
 * A play that started the job: 200 with the same job, enqueued. jobs.rb presents the job object `play`
 * enqueued (Ci::EnqueueJobService): `pending`, or `waiting_for_resource` / `preparing` for a job with a
 * resource group or unmet prerequisites.
 */
function expectPlayed(ctx: CheckContext, exchange: OpExchange<"playJob">, jobId: number): void {
  const played = ctx.ok(exchange, 200);
  ctx.expect(
    played.id === jobId && enqueued.includes(played.status),
    `job ${played.id}, status ${played.status}`,
    `job ${jobId}, status ${enqueued.join(" or ")}`,
    exchange,
  );
}

export const playJobChecks: CheckDefinition[] = [
  {
    id: "playJob.manualToPending",
    description:
      "play of a manual job answers 200 with the job pending (or waiting_for_resource, preparing), stored so: a GET no longer finds it manual",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["manual"]);
      const exchange = await ctx.call("playJob", { params: { job_id: job.id } });
      expectPlayed(ctx, exchange, job.id);
      // On a real GitLab a runner may take the job between the play and the GET, and even finish it.
      await expectStoredStatus(
        ctx,
        job.id,
        enqueuedOrLater,
        " (played: enqueued, or taken by a runner since)",
      );
    },
  },
  {
    id: "playJob.nonManualRefused",
    description:
      'play of a job that is not manual answers 400 {"message":"400 Bad request - Unplayable Job"} and leaves it alone (a runner may move it on meanwhile)',
    destructive: true,
    async run(ctx: CheckContext) {
      const [before] = await current(ctx, ctx.claim(inProgress).id);
      const exchange = await ctx.call("playJob", { params: { job_id: before.id } });
      ctx.expectError(exchange, 400, { message: "400 Bad request - Unplayable Job" });
      await expectLeftAlone(ctx, before, "play");
    },
  },
  jobTokenRefused("playJob", ["manual"], "play"),
  {
    id: "playJob.emptyFormBody",
    description:
      "play with an empty application/x-www-form-urlencoded body (as HTML forms and curl -d '' send) answers 200 with the job pending (Grape reads form bodies)",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["manual"]);
      const exchange = await ctx.call("playJob", {
        params: { job_id: job.id },
        extra: { rawBody: { contentType: "application/x-www-form-urlencoded", text: "" } },
      });
      expectPlayed(ctx, exchange, job.id);
    },
  },
  unknownJobCheck("playJob", { destructive: true }),
];
