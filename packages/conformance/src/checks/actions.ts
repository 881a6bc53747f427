/** Checks of cancel, retry, play and erase: they change jobs, so they run only with `--destructive`. */
import {
  ALIVE_STATUSES,
  CANCEL_EVENT_STATUSES,
  type Job,
  type JobStatus,
  RETRYABLE_STATUSES,
} from "@jobs-api/types";
import { type CheckContext, differences, type OpExchange, sameReads, withoutClock } from "../context.js";
import { allPages, type CheckDefinition, ids, unknownId, unknownJobCheck, wasRetried } from "./helpers.js";
import { traceCandidates } from "./jobs.js";

/**
 * The order in which checks claim jobs, those least needed by other checks first. Jobs waiting for a
 * callback or for their runner to stop (`waiting_for_callback`, `canceling`) are never claimed: what an
 * action does to them depends on what they wait for.
 */
const claimOrder: readonly JobStatus[] = [
  "created",
  "pending",
  "waiting_for_resource",
  "preparing",
  "scheduled",
  "running",
  "manual",
  "failed",
  "success",
  "canceled",
];
const claimable = (statuses: readonly JobStatus[]) => claimOrder.filter((s) => statuses.includes(s));

/** Statuses GitLab's cancel acts on. */
const cancelable = claimable(CANCEL_EVENT_STATUSES);
const retryable = claimable(RETRYABLE_STATUSES);
/** Jobs that are neither manual nor finished: no action can play or retry them. */
const inProgress = claimable(ALIVE_STATUSES);

/** The job as the server has it now, with the answer to show if a later assertion fails. */
async function current(ctx: CheckContext, id: number): Promise<[Job, OpExchange<"getJob">]> {
  const exchange = await ctx.call("getJob", { params: { job_id: id } });
  return [ctx.ok(exchange, 200), exchange];
}

/** The job as GET answers it afterwards has `status`: the action was stored, not only answered. */
async function expectStoredStatus(ctx: CheckContext, id: number, status: string, note = ""): Promise<void> {
  const [after, exchange] = await current(ctx, id);
  ctx.expect(
    after.status === status,
    `GET answers status ${after.status}`,
    `status ${status}${note}`,
    exchange,
  );
}

/** A finished job that is its pipeline's latest attempt, so that it can be retried. */
/** A refused retry made no new attempt: the job is still its pipeline's latest (listed without retried ones). */
async function expectNotRetried(ctx: CheckContext, job: Job): Promise<void> {
  const latest = await ctx.call("listPipelineJobs", {
    params: { pipeline_id: job.pipeline.id },
    query: allPages,
  });
  const latestIds = ids(ctx.ok(latest, 200));
  ctx.expect(
    latestIds.includes(job.id),
    `the pipeline lists [${latestIds.join(", ")}]`,
    `job ${job.id} still its latest attempt (no retry made)`,
    latest,
  );
}

function claimRetryable(ctx: CheckContext): Job {
  return ctx.claim(retryable, (j) => !wasRetried(j, ctx.material.jobs));
}

type ActionOp = "cancelJob" | "retryJob" | "playJob" | "eraseJob";

/**
 * `<op>.jobTokenRefused`: the action with a CI job token (JOB-TOKEN) answers 401 and changes nothing, as a
 * GET of the job (and, for retry, of the pipeline's list) shows afterwards. jobs.rb gives none of the
 * actions `job_token_allowed`, so the token authenticates nobody (auth_finders.rb).
 */
function jobTokenRefused(op: ActionOp, statuses: readonly JobStatus[], verb: string): CheckDefinition {
  return {
    id: `${op}.jobTokenRefused`,
    description: `${verb} with a CI job token answers 401 {"message":"401 Unauthorized"} and changes nothing (jobs.rb: no job_token_allowed)`,
    destructive: true,
    async run(ctx: CheckContext) {
      const token = ctx.tokens.jobToken;
      if (!token) ctx.skip("needs a job token of a running job (--job-token)");
      const job = op === "retryJob" ? claimRetryable(ctx) : ctx.claim(statuses);
      const [before] = await current(ctx, job.id);
      const exchange = await ctx.call(op, {
        params: { job_id: job.id },
        auth: { kind: "jobTokenHeader", token },
      });
      ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
      const [after, afterExchange] = await current(ctx, job.id);
      ctx.expect(
        sameReads(after, before),
        `the job changed at ${differences(withoutClock(after), withoutClock(before)).join(", ")}`,
        `job ${job.id} as it was before the refused ${verb}`,
        afterExchange,
      );
      if (op === "retryJob") await expectNotRetried(ctx, job);
    },
  };
}

const cancelChecks: CheckDefinition[] = [
  {
    id: "cancelJob.cancelsActive",
    description: "cancel answers 201 with the job canceled and finished_at set",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(cancelable);
      const exchange = await ctx.call("cancelJob", { params: { job_id: job.id } });
      const canceled = ctx.ok(exchange, 201);
      ctx.expect(
        canceled.id === job.id && canceled.status === "canceled" && canceled.finished_at !== null,
        `job ${canceled.id}, status ${canceled.status}, finished_at ${canceled.finished_at}`,
        `job ${job.id} (was ${job.status}), status canceled, finished_at set`,
        exchange,
      );
      await expectStoredStatus(ctx, job.id, "canceled");
    },
  },
  {
    id: "cancelJob.finishedUnchanged",
    description: "cancel of a finished job answers 201 with the job unchanged",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["success", "failed"]);
      const [before] = await current(ctx, job.id);
      const exchange = await ctx.call("cancelJob", { params: { job_id: job.id } });
      const answered = ctx.ok(exchange, 201);
      ctx.expect(
        answered.status === before.status && answered.finished_at === before.finished_at,
        `status ${answered.status}, finished_at ${answered.finished_at}`,
        `the job unchanged: status ${before.status}, finished_at ${before.finished_at}`,
        exchange,
      );
      await expectStoredStatus(ctx, job.id, before.status);
    },
  },
  jobTokenRefused("cancelJob", cancelable, "cancel"),
  {
    id: "cancelJob.unsupportedMediaType",
    description:
      'cancel with a text/plain body answers 415 {"error":"The provided content-type \'text/plain\' is not supported."} and changes nothing (Grape\'s formatter)',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(cancelable);
      const exchange = await ctx.call("cancelJob", {
        params: { job_id: job.id },
        extra: { rawBody: { contentType: "text/plain", text: "force=true" } },
      });
      ctx.expectError(exchange, 415, { error: "The provided content-type 'text/plain' is not supported." });
      await expectStoredStatus(ctx, job.id, job.status, ", unchanged");
    },
  },
  {
    id: "cancelJob.corsPreflight",
    description:
      "a CORS preflight (OPTIONS, POST with a PRIVATE-TOKEN header, from any origin) answers 2xx allowing both (config/application.rb Rack::Cors: methods and headers :any)",
    async run(ctx: CheckContext) {
      const path = ctx.spec
        .operation("cancelJob")
        .path.replace("{id}", encodeURIComponent(String(ctx.project)))
        .replace("{job_id}", String(unknownId(ids(ctx.material.jobs))));
      const exchange = await ctx.http.send("OPTIONS", ctx.http.url(path), { kind: "none" }, undefined, {
        headers: {
          origin: "https://example.org",
          "access-control-request-method": "POST",
          "access-control-request-headers": "private-token",
        },
      });
      const list = (name: string) =>
        (exchange.headers.get(name) ?? "").split(",").map((v) => v.trim().toLowerCase());
      const origin = exchange.headers.get("access-control-allow-origin");
      ctx.expect(
        exchange.status >= 200 &&
          exchange.status < 300 &&
          origin === "*" &&
          list("access-control-allow-methods").includes("post") &&
          list("access-control-allow-headers").includes("private-token"),
        `status ${exchange.status}, Access-Control-Allow-Origin: ${origin ?? "(absent)"}, -Methods: ${exchange.headers.get("access-control-allow-methods") ?? "(absent)"}, -Headers: ${exchange.headers.get("access-control-allow-headers") ?? "(absent)"}`,
        "2xx with Access-Control-Allow-Origin: *, POST among the allowed methods and private-token among the allowed headers",
        exchange,
      );
    },
  },
  unknownJobCheck("cancelJob", { destructive: true }),
];

const retryChecks: CheckDefinition[] = [
  {
    id: "retryJob.newJobPending",
    description: "retry answers 201 with a new pending job of the same name, stage and pipeline",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      const exchange = await ctx.call("retryJob", { params: { job_id: job.id } });
      const retry = ctx.ok(exchange, 201);
      ctx.expect(
        retry.id !== job.id &&
          retry.status === "pending" &&
          retry.name === job.name &&
          retry.stage === job.stage,
        `job ${retry.id} "${retry.name}" (${retry.stage}), status ${retry.status}`,
        `a new job (not ${job.id}) "${job.name}" (${job.stage}), status pending`,
        exchange,
      );
      const [fetched, fetchedExchange] = await current(ctx, retry.id);
      ctx.expect(
        fetched.pipeline.id === job.pipeline.id && fetched.status === "pending",
        `GET answers pipeline ${fetched.pipeline.id}, status ${fetched.status}`,
        `pipeline ${job.pipeline.id}, status pending`,
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
      'retry with a JSON body that does not parse answers 400 with an {"error": "..."} body and retries nothing (Grape Parser::Json, api.rb rescue_from Grape::Exceptions::Base)',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = claimRetryable(ctx);
      const exchange = await ctx.call("retryJob", {
        params: { job_id: job.id },
        extra: { rawBody: { contentType: "application/json", text: '{"force": tru' } },
      });
      const body = exchange.json as { error?: unknown } | undefined;
      ctx.expect(
        exchange.status === 400 && typeof body?.error === "string",
        `status ${exchange.status}`,
        'status 400 with {"error": "<Grape\'s message>"}',
        exchange,
      );
      await expectNotRetried(ctx, job);
    },
  },
  unknownJobCheck("retryJob", { destructive: true }),
];

const playChecks: CheckDefinition[] = [
  {
    id: "playJob.manualToPending",
    description: "play of a manual job answers 200 with the job pending",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["manual"]);
      const exchange = await ctx.call("playJob", { params: { job_id: job.id } });
      const played = ctx.ok(exchange, 200);
      ctx.expect(
        played.id === job.id && played.status === "pending",
        `job ${played.id}, status ${played.status}`,
        `job ${job.id}, status pending`,
        exchange,
      );
      await expectStoredStatus(ctx, job.id, "pending");
    },
  },
  {
    id: "playJob.nonManualRefused",
    description:
      'play of a job that is not manual answers 400 {"message":"400 Bad request - Unplayable Job"}',
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(inProgress);
      const exchange = await ctx.call("playJob", { params: { job_id: job.id } });
      ctx.expectError(exchange, 400, { message: "400 Bad request - Unplayable Job" });
      await expectStoredStatus(ctx, job.id, job.status, ", unchanged");
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
      const played = ctx.ok(exchange, 200);
      ctx.expect(
        played.id === job.id && played.status === "pending",
        `job ${played.id}, status ${played.status}`,
        `job ${job.id}, status pending`,
        exchange,
      );
    },
  },
  unknownJobCheck("playJob", { destructive: true }),
];

const eraseChecks: CheckDefinition[] = [
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

export const actionChecks: CheckDefinition[] = [
  ...cancelChecks,
  ...retryChecks,
  ...playChecks,
  ...eraseChecks,
];
