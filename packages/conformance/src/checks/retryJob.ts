/** Checks of retryJob: a finished job is run again as a new job. Destructive. */
import type { JobStatus } from "@jobs-api/types";
import type { CheckContext, OpExchange } from "../context.js";
import {
  claimRetryable,
  current,
  enqueued,
  enqueuedOrLater,
  expectNotRetried,
  inProgress,
  jobTokenRefused,
  retryable,
} from "./action-helpers.js";
import { allPages, type CheckDefinition, ids, unknownJobCheck, wasRetried } from "./helpers.js";

export const retryJobChecks: CheckDefinition[] = [
  {
    id: "retryJob.newJobPending",
    description:
      "retry answers 201 with a new job of the same name, stage and pipeline, pending (or created while earlier stages run, waiting_for_resource, preparing)",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      const exchange = await ctx.call("retryJob", { params: { job_id: job.id } });
      const retry = ctx.ok(exchange, 201);
      // retry_job_service.rb: the clone is saved `created`, then StartPipelineService runs
      // Ci::ProcessPipelineService, which enqueues it (pending, or waiting_for_resource / preparing) unless
      // jobs it waits for (an earlier stage, its needs) are unfinished: then it stays created.
      const waiting: readonly JobStatus[] = ["created", ...enqueued];
      ctx.expect(
        retry.id !== job.id &&
          waiting.includes(retry.status) &&
          retry.name === job.name &&
          retry.stage === job.stage,
        `job ${retry.id} "${retry.name}" (${retry.stage}), status ${retry.status}`,
        `a new job (not ${job.id}) "${job.name}" (${job.stage}), status ${waiting.join(" or ")}`,
        exchange,
      );
      // A runner may take the new job between the retry and the GET (and even finish it).
      const stored: readonly JobStatus[] =
        retry.status === "created" ? ["created", ...enqueuedOrLater] : enqueuedOrLater;
      const [fetched, fetchedExchange] = await current(ctx, retry.id);
      ctx.expect(
        fetched.pipeline.id === job.pipeline.id && stored.includes(fetched.status),
        `GET answers pipeline ${fetched.pipeline.id}, status ${fetched.status}`,
        `pipeline ${job.pipeline.id}, status ${stored.join(" or ")}`,
        fetchedExchange,
      );
    },
  },
  {
    id: "retryJob.userIsCaller",
    description:
      "the new job of a retry is the caller's: two retries of jobs of different users give jobs of one user (GET /user's, when it answers)",
    destructive: true,
    async run(ctx: CheckContext) {
      const first = claimRetryable(ctx);
      const others = ctx.available(
        (j) =>
          retryable.includes(j.status) && !wasRetried(j, ctx.material.jobs) && j.user?.id !== first.user?.id,
      );
      const second = others[0] ?? claimRetryable(ctx);
      ctx.material.claimed.add(second.id);
      const users: Array<number | undefined> = [];
      let last: OpExchange<"retryJob"> | undefined;
      for (const job of [first, second]) {
        const exchange = await ctx.call("retryJob", { params: { job_id: job.id } });
        const retry = ctx.ok(exchange, 201);
        ctx.expect(
          retry.id !== job.id && retry.pipeline?.id === job.pipeline.id && retry.user !== null,
          `job ${retry.id} of pipeline ${retry.pipeline?.id}, user ${retry.user?.username ?? "null"}`,
          `a new job of pipeline ${job.pipeline.id}, with the caller as its user`,
          exchange,
        );
        users.push(retry.user?.id);
        last = exchange;
      }
      // GET /user is not among the spec's operations: asked directly, and used only when it answers.
      const me = await ctx.http.send("GET", ctx.http.url("/user"), ctx.token);
      const caller = me.status === 200 ? (me.json as { id?: unknown } | undefined)?.id : undefined;
      const [a, b] = users;
      ctx.expect(
        a === b && (typeof caller !== "number" || a === caller),
        `retries of jobs of users ${first.user?.id ?? "null"} and ${second.user?.id ?? "null"} gave jobs of users ${a} and ${b}`,
        typeof caller === "number"
          ? `both of user ${caller} (GET /user)`
          : "both of the same user: the caller",
        last,
      );
    },
  },
  {
    id: "retryJob.oldJobHidden",
    description:
      "after a retry the pipeline lists the new job and hides the old one unless include_retried=true",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      const retry = ctx.ok(await ctx.call("retryJob", { params: { job_id: job.id } }), 201);
      const params = { pipeline_id: job.pipeline.id };
      const latest = await ctx.call("listPipelineJobs", { params, query: allPages });
      const latestIds = ids(ctx.ok(latest, 200));
      ctx.expect(
        latestIds.includes(retry.id) && !latestIds.includes(job.id),
        `the pipeline lists [${latestIds.join(", ")}]`,
        `new job ${retry.id} listed, retried job ${job.id} hidden`,
        latest,
      );
      const all = await ctx.call("listPipelineJobs", {
        params,
        query: [...allPages, ["include_retried", "true"]],
      });
      const allIds = ids(ctx.ok(all, 200));
      ctx.expect(
        allIds.includes(retry.id) && allIds.includes(job.id),
        `include_retried=true lists [${allIds.join(", ")}]`,
        `both ${retry.id} and ${job.id}`,
        all,
      );
    },
  },
  {
    id: "retryJob.onlyOnce",
    description: 'a job already retried answers 403 {"message":"403 Forbidden - Job is not retryable"}',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      ctx.ok(await ctx.call("retryJob", { params: { job_id: job.id } }), 201);
      const again = await ctx.call("retryJob", { params: { job_id: job.id } });
      ctx.expectError(again, 403, { message: "403 Forbidden - Job is not retryable" });
    },
  },
  {
    id: "retryJob.notRetryable",
    description: 'retry of an unfinished job answers 403 {"message":"403 Forbidden - Job is not retryable"}',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(inProgress);
      const exchange = await ctx.call("retryJob", { params: { job_id: job.id } });
      ctx.expectError(exchange, 403, { message: "403 Forbidden - Job is not retryable" });
    },
  },
  jobTokenRefused("retryJob", retryable, "retry"),
  {
    id: "retryJob.malformedJson",
    description:
      'retry with a JSON body that does not parse answers 400 and retries nothing: text/plain "Bad Request" (Rails\' JSON parser in Gitlab::Middleware::HandleMalformedStrings, before Grape) or, on GitLab versions whose middleware did not parse JSON bodies, Grape\'s {"error": "..."}',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      const exchange = await ctx.call("retryJob", {
        params: { job_id: job.id },
        extra: { rawBody: { contentType: "application/json", text: '{"force": tru' } },
      });
      // Current GitLab refuses the body in HandleMalformedStrings (it rescues Rails' `ParseError`), older
      // ones let it reach Grape's JSON parser (`InvalidMessageBody`, `{"error": …}`): both are GitLab's.
      const body = exchange.json as { error?: unknown } | undefined;
      ctx.expect(
        exchange.status === 400 &&
          ((exchange.mediaType === "text/plain" && exchange.text === "Bad Request") ||
            typeof body?.error === "string"),
        `status ${exchange.status}`,
        'status 400 with text/plain "Bad Request" or {"error": "<Grape\'s message>"}',
        exchange,
      );
      await expectNotRetried(ctx, job);
    },
  },
  unknownJobCheck("retryJob", { destructive: true }),
];
