/**
 * What the checks of cancel, retry, play and erase share: which jobs they take, and how they see what an
 * action changed. These checks change jobs, so they run only with `--destructive`.
 */
import {
  ALIVE_STATUSES,
  CANCEL_EVENT_STATUSES,
  type Job,
  type JobStatus,
  RETRYABLE_STATUSES,
} from "@jobs-api/types";
import { type CheckContext, jobChanges, type OpExchange } from "../context.js";
import { allPages, type CheckDefinition, ids, wasRetried } from "./helpers.js";

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
export const cancelable = claimable(CANCEL_EVENT_STATUSES);
export const retryable = claimable(RETRYABLE_STATUSES);
/** Jobs that are neither manual nor finished: no action can play or retry them. */
export const inProgress = claimable(ALIVE_STATUSES);

/**
 * Where GitLab's `enqueue` event takes a job (a play, or the processing after a retry): `pending`, or
 * `waiting_for_resource` for a job with a `resource_group` (processable.rb `event :enqueue`), or `preparing`
 * for one with unmet prerequisites (build.rb `event :enqueue`, `any_unmet_prerequisites?`).
 */
export const enqueued: readonly JobStatus[] = ["pending", "waiting_for_resource", "preparing"];

/**
 * What an enqueued job may have become by the next read on a real GitLab: its runner may pick it up at
 * once (Workhorse's long polling wakes the runner when the queue changes) and run it to its end.
 */
export const enqueuedOrLater: readonly JobStatus[] = [...enqueued, "running", "success", "failed"];

/** The job as the server has it now, with the answer to show if a later assertion fails. */
export async function current(ctx: CheckContext, id: number): Promise<[Job, OpExchange<"getJob">]> {
  const exchange = await ctx.call("getJob", { params: { job_id: id } });
  return [ctx.ok(exchange, 200), exchange];
}

/** The job as GET answers it afterwards has `status`: the action was stored, not only answered. */
export async function expectStoredStatus(
  ctx: CheckContext,
  id: number,
  status: JobStatus | readonly JobStatus[],
  note = "",
): Promise<void> {
  const [after, exchange] = await current(ctx, id);
  const allowed: readonly JobStatus[] = typeof status === "string" ? [status] : status;
  ctx.expect(
    allowed.includes(after.status),
    `GET answers status ${after.status}`,
    `status ${allowed.join(" or ")}${note}`,
    exchange,
  );
}

/**
 * Where a job may go by itself, without anybody's action, between two reads on a real GitLab: its pipeline's
 * processing moves a created job on (processable.rb `event :enqueue`, `:actionize` to manual, `:schedule`,
 * commit_status.rb `event :skip`), the enqueue moves it to pending (`enqueue_waiting_for_resource`,
 * build.rb `event :enqueue_preparing`), a scheduled one is enqueued when its time comes
 * (`enqueue_scheduled`), a runner takes a pending job and runs it to its end (`event :run`, `:success`,
 * `:drop`). No job gets to `canceled` or `canceling` this way, and a manual or finished one stays as it is.
 */
const onItsOwn: Partial<Record<JobStatus, readonly JobStatus[]>> = {
  created: [
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "success",
    "failed",
    "skipped",
    "manual",
    "scheduled",
  ],
  scheduled: ["scheduled", ...enqueuedOrLater],
  waiting_for_resource: enqueuedOrLater,
  preparing: ["preparing", "pending", "running", "success", "failed"],
  pending: ["pending", "running", "success", "failed"],
  running: ["running", "success", "failed"],
};

/**
 * A refused action left the job alone: it is as it was before (`jobChanges`), or, for a job that was moving
 * on, it went only where it may go by itself (`onItsOwn`): a real runner may start or finish a pending job
 * between the two reads, but a refused cancel, play, retry or erase cannot have taken it anywhere else.
 */
export async function expectLeftAlone(ctx: CheckContext, before: Job, refused: string): Promise<void> {
  const [after, exchange] = await current(ctx, before.id);
  const onward = (onItsOwn[before.status] ?? []).filter((s) => s !== before.status);
  const moved = after.status !== before.status;
  const changed = moved ? [] : jobChanges(after, before);
  ctx.expect(
    moved ? onward.includes(after.status) : changed.length === 0,
    moved ? `GET answers status ${after.status}` : `the job changed at ${changed.join(", ")}`,
    `job ${before.id} as it was before the refused ${refused} (status ${before.status}${
      onward.length > 0 ? `, or where it goes by itself: ${onward.join(", ")}` : ""
    })`,
    exchange,
  );
}

/** A refused retry made no new attempt: the job is still its pipeline's latest (listed without retried ones). */
export async function expectNotRetried(ctx: CheckContext, job: Job): Promise<void> {
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

/** A finished job that is its pipeline's latest attempt, so that it can be retried. */
export function claimRetryable(ctx: CheckContext): Job {
  return ctx.claim(retryable, (j) => !wasRetried(j, ctx.material.jobs));
}

type ActionOp = "cancelJob" | "retryJob" | "playJob" | "eraseJob";

/**
 * `<op>.jobTokenRefused`: the action with a CI job token (JOB-TOKEN) answers 401 and changes nothing, as a
 * GET of the job (and, for retry, of the pipeline's list) shows afterwards. jobs.rb gives none of the
 * actions `job_token_allowed`, so the token authenticates nobody (auth_finders.rb).
 */
export function jobTokenRefused(op: ActionOp, statuses: readonly JobStatus[], verb: string): CheckDefinition {
  return {
    id: `${op}.jobTokenRefused`,
    description: `${verb} with a CI job token answers 401 {"message":"401 Unauthorized"} and changes nothing (a runner may move the job on meanwhile) (jobs.rb: no job_token_allowed)`,
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
      await expectLeftAlone(ctx, before, verb);
      if (op === "retryJob") await expectNotRetried(ctx, job);
    },
  };
}
